"""Table VI: STAE + focal loss (gamma 2) for the whole run (BRL ablation, docs/methods.md and docs/training.md).

A configuration of :class:`methods.brl.BRL`; only the defaults differ. The official_code preset is
BRL's (flags F1–F12, F15 apply to whatever components the row uses).
"""
from __future__ import annotations

from methods import register_method
from methods.brl import BRL

NAME = "stae_focal"
VERSION = "1"
DESCRIPTION = "Table VI: STAE + focal loss (gamma 2) for the whole run"
PAPER = "BRL paper (Liu et al. 2023), Table VI ablation"


@register_method
class STAEFocal(BRL):
    DEFAULTS = dict(BRL.DEFAULTS, **{"aa_variant": "focal", "aa_schedule": "always"})
