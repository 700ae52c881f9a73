"""Training recipes of the ``official_code`` fidelity mode, per dataset family, as released.

A method entry with ``fidelity: official_code`` and no other change runs the recipe the official
BRL code ships for that dataset; ``paper`` (the default) keeps the config's top-level recipe.
Precedence when a run spec is built: config ``schedule``/``augment`` < this recipe < the method
entry's own ``schedule``/``augment`` (an explicit entry always wins, e.g. a reduced CPU budget).

=========  ==========================================================================================
family     official recipe
=========  ==========================================================================================
ntu        one device, batch 16, lr 0.1·16/128 = 0.0125 (the authors' linear scaling rule), 24 runner
           epochs × 5 passes, clip 64, deterministic 10-clip test. With the reverse sampler this is
           ⌈98 106 / 16⌉ = 6 132 iterations per runner epoch on NTU60-LT (8× the paper-mode 767 at
           batch 128), and RPM mixes one sample per batch, so one λ per batch as released.
nw_ucla    the NTU recipe (the official code ships no NW-UCLA pipeline: extrapolated), plus the
           shipped PreNormalize3D centring for non-NTU layouts: the *last* joint instead of joint 1.
kinetics   batch 64, lr 0.1, 150 epochs of one pass each, clip 100, image-space flip only, random
           (but seeded) test clips, action-aware stage from 0-based epoch 129 (extrapolated: the
           released Kinetics path does not run as shipped). The released runner has one switch
           epoch, which its Kinetics config sets to 129: every baseline with a runner-epoch switch
           (the deferred re-weighting of focal, CB, EQL, weighted softmax; LDAM-DRW's DRW; KPS;
           GumbelCE) switches there too, not at its NTU epoch (19, 16 or 20 of 24). On the HRNet
           COCO-17 skeletons the released config reads, the coordinates are as released too: raw
           pixels (``pipeline.normalize: none`` undoes the prepared PreNormalize2D) and the flip
           x ← W − x about each video's width (``augment.flip_mode: image``); see
           :func:`pixel_space`.
=========  ==========================================================================================

Synthetic data has no official recipe (the config's reduced budget stays); the run record says so.
Pure standard library: imported by the workflow at parse time.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

FAMILIES = ("ntu", "nw_ucla", "kinetics")

#: layout name -> dataset family (a dataset config may also say ``recipe_family: ...``)
LAYOUT_FAMILY = {"ntu25": "ntu", "nw_ucla20": "nw_ucla", "coco17": "kinetics", "openpose18": "kinetics"}


class RecipeError(ValueError):
    pass


@dataclass(frozen=True)
class Recipe:
    family: str
    schedule: Dict[str, Any]
    augment: Dict[str, Any] = field(default_factory=dict)
    #: data-pipeline options (see benchmark.engine.config.RunSpec.pipeline)
    pipeline: Dict[str, Any] = field(default_factory=dict)
    #: method options by method-name pattern (only methods that have these options)
    method_options: Tuple[Tuple[str, Dict[str, Any]], ...] = ()
    extrapolated: bool = False
    note: str = ""

    def options_for(self, method_name: str) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for pattern, opts in self.method_options:
            if fnmatch.fnmatch(method_name, pattern):
                out.update(opts)
        return out


_NTU_SCHEDULE = {"batch_size": 16, "base_lr": 0.1, "lr_ref_batch": 128, "runner_epochs": 24, "repeat": 5,
                 "clip_len": 64, "test_clips": 10, "test_sampling": "deterministic"}

#: the BRL family (brl and its ablation rows) shares the action-aware switch options
_BRL_FAMILY = ("brl*", "stae_*")
#: baselines whose second stage starts at a runner epoch (option ``switch_epoch``)
_SWITCHED_BASELINES = ("focal", "cb", "eql", "weighted_softmax", "ldam_drw", "kps", "gumbel_ce")
#: the Kinetics config's switch epoch (0-based runner epoch of 150: the last 21 epochs)
KINETICS_SWITCH_EPOCH = 129
#: the released K400 config's data: pyskl's HRNet COCO-17 skeletons, in pixels, never normalised
#: (its pipeline has no PreNormalize2D; docs/fidelity.md F16), flipped about the image width
_PIXEL_LAYOUTS = ("coco17",)

OFFICIAL_RECIPES: Dict[str, Recipe] = {
    "ntu": Recipe("ntu", dict(_NTU_SCHEDULE),
                  note="official BRL code on one device: batch 16, lr 0.0125, 24 runner epochs x 5"),
    "nw_ucla": Recipe("nw_ucla", dict(_NTU_SCHEDULE), pipeline={"center_joint": "last"}, extrapolated=True,
                      note="NTU recipe applied to NW-UCLA; shipped PreNormalize3D centres on the last joint"),
    "kinetics": Recipe("kinetics",
                       {"batch_size": 64, "base_lr": 0.1, "lr_ref_batch": 64, "runner_epochs": 150, "repeat": 1,
                        "clip_len": 100, "test_clips": 10, "test_sampling": "random"},
                       augment={"scale": 0.0, "rotate": 0.0, "flip_p": 0.5},
                       method_options=tuple((p, {"aa_switch_epoch": KINETICS_SWITCH_EPOCH}) for p in _BRL_FAMILY)
                       + tuple((m, {"switch_epoch": KINETICS_SWITCH_EPOCH}) for m in _SWITCHED_BASELINES),
                       extrapolated=True,
                       note="intended Kinetics behaviour of the official code: batch 64, lr 0.1, 150 x 1 "
                            "epochs, clip 100, random seeded test clips, action-aware (and every baseline's "
                            "switch) from epoch 129"),
}


def family_of(dataset_cfg: Dict[str, Any], dataset_id: str = "") -> Optional[str]:
    """The recipe family of a dataset entry of the config, or None (synthetic data, unknown layout)."""
    fam = dataset_cfg.get("recipe_family")
    if fam is not None:
        if fam not in FAMILIES and fam != "none":
            raise RecipeError(f"dataset '{dataset_id}': recipe_family '{fam}' is not one of "
                              f"{list(FAMILIES) + ['none']}")
        return None if fam == "none" else fam
    if dataset_cfg.get("source") == "synthetic":
        return None
    layout = dataset_cfg.get("layout", "ntu25")
    # a custom layout (a mapping, generic format) belongs to no released recipe
    return LAYOUT_FAMILY.get(layout) if isinstance(layout, str) else None


def official_recipe(dataset_cfg: Dict[str, Any], dataset_id: str = "") -> Optional[Recipe]:
    fam = family_of(dataset_cfg, dataset_id)
    return None if fam is None else OFFICIAL_RECIPES[fam]


def pixel_space(recipe: Recipe, dataset_cfg: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(pipeline, augment) options that put an official Kinetics run in the released coordinates.

    The released K400 pipeline trains on the HRNet skeletons' pixel coordinates and flips x ← W − x
    (docs/fidelity.md F16). The suite prepares a dataset once for both presets: ``prenorm2d`` data
    are mapped back to pixels at load time (``pipeline.normalize: none``), data prepared with
    ``none`` already are pixels; both get ``augment.flip_mode: image``. Any other data (the ST-GCN
    OpenPose release, ``stgcn_center``: no image size, no released pipeline) keep their coordinates
    and the flip about the origin, extrapolated. Returns two empty dicts when nothing applies."""
    if recipe.family != "kinetics" or dataset_cfg.get("layout") not in _PIXEL_LAYOUTS:
        return {}, {}
    normalize = dataset_cfg.get("normalize", "prenorm3d")
    if normalize == "prenorm2d":
        return {"normalize": "none"}, {"flip_mode": "image"}
    if normalize == "none":
        return {}, {"flip_mode": "image"}
    return {}, {}


def resolve(fidelity: str, dataset_cfg: Dict[str, Any], method_name: str, base_schedule: Dict[str, Any],
            base_augment: Dict[str, Any], entry_schedule: Dict[str, Any], entry_augment: Dict[str, Any],
            entry_options: Dict[str, Any], dataset_id: str = "") -> Dict[str, Any]:
    """Schedule, augmentation, method options and pipeline of one run (see the module docstring).

    Returns ``{"schedule", "augment", "method_options", "pipeline", "recipe"}``; ``recipe`` names
    the official recipe applied (None in paper mode or without one)."""
    recipe = official_recipe(dataset_cfg, dataset_id) if fidelity == "official_code" else None
    if recipe is None:
        return {"schedule": {**base_schedule, **entry_schedule}, "augment": {**base_augment, **entry_augment},
                "method_options": dict(entry_options), "pipeline": {}, "recipe": None}
    pixel_pipeline, pixel_augment = pixel_space(recipe, dataset_cfg)
    return {"schedule": {**base_schedule, **recipe.schedule, **entry_schedule},
            "augment": {**base_augment, **recipe.augment, **pixel_augment, **entry_augment},
            "method_options": {**recipe.options_for(method_name), **entry_options},
            "pipeline": {**recipe.pipeline, **pixel_pipeline},
            "recipe": f"official_code:{recipe.family}" + (" (extrapolated)" if recipe.extrapolated else "")}
