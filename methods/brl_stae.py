"""Table VI 'w/ STAE' (= BRL without DAA): RPM + reverse sampler + CE (BRL ablation, docs/methods.md and docs/training.md).

A configuration of :class:`methods.brl.BRL`; only the defaults differ. The official_code preset is
BRL's (flags F1–F12, F15 apply to whatever components the row uses).
"""
from __future__ import annotations

from methods import register_method
from methods.brl import BRL

NAME = "brl_stae"
VERSION = "1"
DESCRIPTION = "Table VI 'w/ STAE' (= BRL without DAA): RPM + reverse sampler + CE"
PAPER = "BRL paper (Liu et al. 2023), Table VI ablation"


@register_method
class BRLSTAE(BRL):
    DEFAULTS = dict(BRL.DEFAULTS, **{"aa_variant": "ce"})
