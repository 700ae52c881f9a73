"""Table VI: STAE + action-aware loss from the first iteration (BRL ablation, docs/methods.md and docs/training.md).

A configuration of :class:`methods.brl.BRL`; only the defaults differ. The official_code preset is
BRL's (flags F1–F12, F15 apply to whatever components the row uses).
"""
from __future__ import annotations

from methods import register_method
from methods.brl import BRL

NAME = "stae_action_aware"
VERSION = "1"
DESCRIPTION = "Table VI: STAE + action-aware loss from the first iteration"
PAPER = "BRL paper (Liu et al. 2023), Table VI ablation"


@register_method
class STAEActionAware(BRL):
    DEFAULTS = dict(BRL.DEFAULTS, **{"aa_variant": "action_aware", "aa_schedule": "always"})
