"""Classifier re-training, cRT (Kang et al., ICLR 2020; docs/methods.md). Beyond the paper.

Stage 2 on the final plain-CE model: the backbone is frozen and kept in eval mode (BN statistics
fixed) [suite]; the linear classifier is re-initialised and trained for 10 passes of the class-aware
sampler (a class, then 4 of its samples in a row) with CE, lr 0.2 at batch 512 scaled linearly
(0.05 at B = 128; the param group's ``lr_scale`` converts the engine's lr₀ = 0.1·B/128, or
``recipe_lr0`` when the stage-2 recipe sets another), cosine over the stage-2 iterations.
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import torch.nn as nn

from methods import register_method
from methods._base import Method
from methods._formulas import (classifier_linear, freeze_backbone_eval, load_stage1, lr_scale_for,
                               stage2_schedule)
from methods._samplers import class_aware_epoch_indices

NAME = "crt"
VERSION = "1"
DESCRIPTION = "Classifier re-training on a frozen CE backbone with class-aware sampling (beyond the paper)"
PAPER = "Kang et al., Decoupling Representation and Classifier for Long-Tailed Recognition, ICLR 2020"
STAGE1 = "ce"

#: stage-2 length in passes over the sampler list (docs/methods.md); a class constant because the
#: engine asks for the schedule before it builds the method
PASSES = 10


@register_method
class ClassifierRetraining(Method):
    DEFAULTS: Dict[str, Any] = {"lr_at_512": 0.2, "samples_per_class": 4, "sampler": "class_aware",
                                "recipe_lr0": None}
    OFFICIAL_CODE: Dict[str, Any] = {}

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return stage2_schedule(PASSES, repeat)

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)
        fc = classifier_linear(model)
        nn.init.normal_(fc.weight, 0.0, 0.01)       # re-initialised classifier (docs/methods.md init)
        if fc.bias is not None:
            nn.init.zeros_(fc.bias)
        freeze_backbone_eval(model)

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        lr = float(self.options["lr_at_512"]) * self.ctx.batch_size / 512.0
        scale = lr_scale_for(lr, self.ctx, self.options["recipe_lr0"])
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay,
                 "lr": lr, "lr_scale": scale}]

    def epoch_indices(self, labels: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        if self.options["sampler"] == "instance":
            return super().epoch_indices(labels, epoch, rng)
        return class_aware_epoch_indices(labels, self.ctx.num_classes, self.ctx.repeat, rng,
                                         int(self.options["samples_per_class"]))
