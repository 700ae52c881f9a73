"""Random oversampling, ROS (Van Hulse et al., ICML 2007; docs/methods.md).

Default: each pass draws N indices with replacement, P(i) ∝ 1/n_{y_i} (every class has expected share
1/C; the iteration budget of the CE run is kept). ``variant = replicate``: ⌊n_max/n_c⌋ copies plus a
random remainder per class (≈ C·n_max samples per pass). CE loss. No official_code variant exists.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from methods import register_method
from methods._base import Method, MethodContext
from methods._formulas import check_choice
from methods._samplers import ros_epoch_indices

NAME = "ros"
VERSION = "1"
DESCRIPTION = "Random oversampling to a class-balanced sample stream, CE loss"
PAPER = "Van Hulse et al., Experimental Perspectives on Learning from Imbalanced Data, ICML 2007"


@register_method
class RandomOversampling(Method):
    DEFAULTS: Dict[str, Any] = {"variant": "with_replacement"}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        check_choice(self.NAME, "variant", self.options["variant"], ("with_replacement", "replicate"))

    def epoch_indices(self, labels: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        return ros_epoch_indices(labels, self.ctx.num_classes, self.ctx.repeat, rng, self.options["variant"])
