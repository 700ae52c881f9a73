"""Plain cross-entropy: the vanilla baseline every long-tailed method is compared against."""
from __future__ import annotations

from methods import register_method
from methods._base import Method

NAME = "ce"
VERSION = "1"
DESCRIPTION = "Cross-entropy with the instance-balanced sampler (no long-tail treatment)"
PAPER = "baseline (BRL paper, Table III 'CE')"


@register_method
class CrossEntropy(Method):
    """Every hook at its default: instance sampler, linear head, CE, softmax at test time."""
