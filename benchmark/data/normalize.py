"""Per-layout normalisation, applied once per sample at prepare time (docs/datasets.md, docs/training.md).

Modes:

- ``prenorm3d``: PreNormalize3D (docs/training.md / docs/datasets.md) with the layout's spine,
  shoulders and translation centre (NTU-25 and NW-UCLA-20: spine (0, 1), shoulders (4, 8),
  centre 1). May shrink T (frames without the main person are dropped).
- ``prenorm2d``: PreNormalize2D, pyskl mode 'fix' (docs/datasets.md): x, y → [−1, 1] with the
  sample's image shape; joints with score ≤ 0.01 set to (0, 0). Needs a score channel (C = 3).
- ``stgcn_center``: ST-GCN OpenPose centring (docs/datasets.md): x − 0.5, −(y − 0.5); x = y = 0
  where score = 0.
- ``ctrgcn_minmax``: CTR-GCN's NW-UCLA feeder normalisation (docs/datasets.md).
- ``none``: unchanged (cast to float32).

Load time (not a prepare mode): :func:`prenorm2d_to_pixels` maps ``prenorm2d``-prepared samples back
to pixel coordinates for runs whose spec says ``pipeline.normalize: none`` (the released Kinetics
pipeline, docs/fidelity.md F16), so one prepared dataset serves both fidelity presets.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Optional, Tuple

import numpy as np

from benchmark.data.canonical import DatasetError
from benchmark.graphs import Layout, get_layout

log = logging.getLogger(__name__)

_EPS = 1e-6
NORMALIZE_MODES = ("prenorm3d", "prenorm2d", "stgcn_center", "ctrgcn_minmax", "none")


def angle_between(v1: np.ndarray, v2: np.ndarray) -> float:
    """Angle in radians between two vectors; 0 when either is ≈ 0 (sum of |v| < 1e-6)."""
    if np.abs(v1).sum() < _EPS or np.abs(v2).sum() < _EPS:
        return 0.0
    c = np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2))
    return float(np.arccos(np.clip(c, -1.0, 1.0)))


def rotation_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
    """Rodrigues rotation by +theta about ``axis`` (right-hand rule); identity when the axis or the
    angle is numerically zero (docs/training.md)."""
    axis = np.asarray(axis, dtype=np.float64)
    if np.abs(axis).sum() < _EPS or abs(theta) < _EPS:
        return np.eye(3)
    a = axis / np.linalg.norm(axis)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def align_to(v: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation of docs/datasets.md that maps ``v`` onto ``target``:
    axis = v × target, angle = ∠(v, target)."""
    return rotation_matrix(np.cross(v, target), angle_between(v, target))


def prenorm3d(x: np.ndarray, layout: Layout, center_joint: Optional[int] = None, where: str = "sample") -> np.ndarray:
    """PreNormalize3D (docs/training.md; docs/datasets.md). x: (M, T, V, 3) → (M, T', V, 3) float32.

    ``center_joint`` overrides the layout's translation centre (the ``official_code`` fidelity mode
    for NW-UCLA passes V − 1, the joint pyskl's transform uses for V ≠ 25, flag F18)."""
    if layout.spine is None or layout.shoulders is None:
        raise DatasetError(f"layout '{layout.name}' declares no spine/shoulders joints: 'prenorm3d' cannot be "
                           "used (use normalize: none, or declare spine, shoulders and norm_center)")
    c = center_joint if center_joint is not None else layout.norm_center
    if c is None:
        raise DatasetError(f"layout '{layout.name}' declares no translation centre (norm_center)")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[-1] not in (3, 4) or x.shape[2] != layout.num_node:
        raise DatasetError(f"{where}: prenorm3d expects (M, T, {layout.num_node}, 3) or, with a confidence "
                           f"channel, (M, T, {layout.num_node}, 4), got {x.shape}")
    if not x.any():                                   # step 1: an all-zero array is returned unchanged
        return x.astype(np.float32)
    # A 4th channel (xyz+score) is a confidence: it follows the frame selection and the person swap
    # but is never translated or rotated.
    extra = x[..., 3:]
    x = x[..., :3]
    # step 2: main person and empty frames (a person is absent in a frame if all-close to 0)
    present = ~np.all(np.isclose(x, 0.0), axis=(2, 3))                  # (M, T)
    if x.shape[0] > 1 and present[1].sum() > present[0].sum():
        x, extra = x[:, present[1]], extra[:, present[1]]
        x[[0, 1]] = x[[1, 0]]
        extra[[0, 1]] = extra[[1, 0]]
    else:
        x, extra = x[:, present[0]], extra[:, present[0]]
    if x.shape[1] == 0:
        raise DatasetError(f"{where}: neither person 0 nor person 1 appears in any frame")
    # step 3: translate by the main person's centre joint in the first kept frame; zero joints stay zero
    nonzero = (x != 0).any(axis=-1, keepdims=True)
    x = (x - x[0, 0, c]) * nonzero
    # step 4: spine (a -> b) onto +z; step 5: shoulders (a -> b) onto +x, both from person 0, frame 0
    a, b = layout.spine
    x = x @ align_to(x[0, 0, b] - x[0, 0, a], np.array([0.0, 0.0, 1.0])).T
    a, b = layout.shoulders
    x = x @ align_to(x[0, 0, b] - x[0, 0, a], np.array([1.0, 0.0, 0.0])).T
    if extra.shape[-1]:
        x = np.concatenate([x, extra], axis=-1)
    return x.astype(np.float32)


def recenter(joints: np.ndarray, joint: int, old_center: int = 1) -> np.ndarray:
    """Move the PreNormalize3D translation centre of prepared samples to another joint, exactly.

    PreNormalize3D (docs/training.md) computes y = R·(x − p_c) on non-zero joints, where the
    rotation R depends only on joint *differences*. Centring on joint c′ instead gives
    R·(x − p_c′) = y − R·(p_c′ − p_c) = y − y[main person, first kept frame, c′], so the prepared
    data need not be re-normalised: subtract that joint from every non-zero joint of the sample
    (zero joints stay zero). This is how the ``official_code`` mode applies the shipped transform's
    centring on the *last* joint for non-NTU layouts (NW-UCLA joint 19, flag F18) without a
    second copy of the dataset. The old centre joint of the main person's first frame is exactly
    zero after the first centring but present, so it is moved too. (If the first kept frame had a
    missing, all-zero spine or shoulder joint, the rotation itself would depend on the centre; the
    subtraction is then approximate.)

    joints: (N, M, T, V, 3) prepared with centre ``old_center``; returns a new float32 array."""
    joints = np.asarray(joints)
    if joints.ndim != 5 or joints.shape[-1] != 3:
        raise DatasetError(f"recenter expects prepared 3D joints (N, M, T, V, 3), got {joints.shape}")
    v = joints.shape[3]
    if not -v <= joint < v:
        raise DatasetError(f"recenter: joint {joint} does not exist in a {v}-joint layout")
    ref = joints[:, 0, 0, joint, :].astype(np.float32)                  # (N, 3)
    nonzero = (joints != 0).any(axis=-1, keepdims=True)
    nonzero[:, 0, 0, old_center] = nonzero[:, 0, 0].any(axis=1)         # the old centre itself is present
    return ((joints - ref[:, None, None, None, :]) * nonzero).astype(np.float32)


def prenorm2d(x: np.ndarray, img_shape: Tuple[int, int] = (1080, 1920), score_thr: float = 0.01,
              where: str = "sample") -> np.ndarray:
    """PreNormalize2D mode 'fix' (docs/datasets.md): x ← (x − w/2)/(w/2), y ← (y − h/2)/(h/2) with
    (h, w) = ``img_shape``; x = y = 0 where score ≤ ``score_thr``. x: (M, T, V, 3) with score channel."""
    x = np.array(x, dtype=np.float32)
    h, w = (float(v) for v in img_shape)
    if h <= 0 or w <= 0:
        raise DatasetError(f"{where}: invalid image shape {img_shape}")
    x[..., 0] = (x[..., 0] - w / 2) / (w / 2)
    x[..., 1] = (x[..., 1] - h / 2) / (h / 2)
    if x.shape[-1] >= 3:
        x[..., :2][x[..., 2] <= score_thr] = 0.0
    return x


def image_shapes(table, rows: np.ndarray, source: str) -> np.ndarray:
    """(h, w) of the given table rows as a float64 array (len(rows), 2), from the ``img_h`` /
    ``img_w`` columns the 2D readers write (docs/datasets.md: the pyskl pickles' ``img_shape``).

    A missing column or a non-positive size stops with a :class:`DatasetError` naming ``source``
    (the table's file) and the first such sample: the pixel coordinates of a video cannot be
    restored, nor flipped about its width, without the video's own size."""
    missing = [c for c in ("img_h", "img_w") if c not in table.columns]
    if missing:
        raise DatasetError(f"{source}: no {'/'.join(missing)} column: the image size of each video is needed "
                           "to work in pixel coordinates (prepare the data with a 2D reader that records it, "
                           "e.g. pyskl_hrnet)")
    rows = np.asarray(rows, dtype=np.int64)
    hw = table[["img_h", "img_w"]].to_numpy(dtype=np.float64)[rows]
    bad = np.flatnonzero(~(hw > 0).all(axis=1))
    if len(bad):
        r = int(rows[bad[0]])
        raise DatasetError(f"{source}: sample '{table['name'].iloc[r]}' has no valid image size "
                           f"(img_h = {hw[bad[0], 0]:g}, img_w = {hw[bad[0], 1]:g}); its video's img_shape "
                           "is needed to work in pixel coordinates")
    return hw


def prenorm2d_to_pixels(joints: np.ndarray, img_hw: np.ndarray, score_thr: float = 0.01) -> np.ndarray:
    """Undo :func:`prenorm2d` on prepared samples: x = x′·w/2 + w/2, y = y′·h/2 + h/2.

    The released BRL Kinetics pipeline feeds the HRNet skeletons' *pixel* coordinates to the network
    (no PreNormalize2D; docs/fidelity.md F16, docs/training.md), while the suite prepares a
    dataset once, with ``prenorm2d``. The map is affine per sample, so it is inverted exactly (up
    to float32 rounding) on every joint prenorm2d kept, i.e. with score > ``score_thr``. Joints at
    or below it were set to (0, 0) and their pixels are lost: they stay (0, 0), which the released
    flip also leaves in place (it only mirrors x ≠ 0); zero padding (score 0) stays zero too.

    joints: (N, …, C ≥ 3) with (x, y, score) first; img_hw: (N, 2) per-sample (h, w), e.g. from
    :func:`image_shapes`. Returns a new float32 array."""
    x = np.array(joints, dtype=np.float32)
    hw = np.asarray(img_hw, dtype=np.float64)
    if x.ndim < 2 or x.shape[-1] < 3 or hw.shape != (x.shape[0], 2):
        raise DatasetError(f"prenorm2d_to_pixels expects (N, ..., C >= 3) joints with (N, 2) image sizes, "
                           f"got {x.shape} and {hw.shape}")
    half = (hw[:, ::-1] / 2.0).reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (2,))     # (w/2, h/2) per sample
    kept = x[..., 2:3] > score_thr
    x[..., :2] = np.where(kept, x[..., :2] * half + half, 0.0)
    return x


def stgcn_center(x: np.ndarray, where: str = "sample") -> np.ndarray:
    """ST-GCN OpenPose centring (docs/datasets.md): x − 0.5, −(y − 0.5); 0 where score = 0."""
    x = np.array(x, dtype=np.float32)
    if x.shape[-1] != 3:
        raise DatasetError(f"{where}: stgcn_center needs (x, y, score) channels, got C = {x.shape[-1]}")
    x[..., 0] -= 0.5
    x[..., 1] = -(x[..., 1] - 0.5)
    x[..., :2][x[..., 2] == 0] = 0.0
    return x


def ctrgcn_minmax(x: np.ndarray, center_joint: int = 1, where: str = "sample") -> np.ndarray:
    """CTR-GCN's NW-UCLA normalisation (docs/datasets.md): subtract joint 1 of frame 0 (person 0),
    then per axis min-max scale over the whole sequence to [−1, 1]; an axis with max = min is set
    to 0 (warning naming the sample)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x[0, 0, center_joint]
    lo = x.min(axis=(0, 1, 2))
    hi = x.max(axis=(0, 1, 2))
    span = hi - lo
    flat = span == 0
    if flat.any():
        log.warning("%s: ctrgcn_minmax: axis %s is constant; set to 0", where, np.flatnonzero(flat).tolist())
    out = np.where(flat, 0.0, 2.0 * (x - lo) / np.where(flat, 1.0, span) - 1.0)
    return out.astype(np.float32)


def normalize_sample(x: np.ndarray, layout: Layout, mode: str, **kw) -> np.ndarray:
    """Normalise one sample (M, T, V, C) for ``layout`` with ``mode`` (see module docstring).

    Keywords: ``where`` (name for messages); prenorm3d: ``center_joint``; prenorm2d: ``img_shape``
    (h, w; default 1080 × 1920, NTU), ``score_thr``; ctrgcn_minmax: ``center_joint``."""
    where = kw.pop("where", "sample")
    if mode == "none":
        return np.asarray(x, dtype=np.float32)
    if mode == "prenorm3d":
        return prenorm3d(x, layout, center_joint=kw.get("center_joint"), where=where)
    if mode == "prenorm2d":
        return prenorm2d(x, img_shape=kw.get("img_shape", (1080, 1920)), score_thr=kw.get("score_thr", 0.01),
                         where=where)
    if mode == "stgcn_center":
        return stgcn_center(x, where=where)
    if mode == "ctrgcn_minmax":
        c = kw.get("center_joint")
        return ctrgcn_minmax(x, center_joint=layout.norm_center if c is None else c, where=where)
    raise DatasetError(f"unknown normalisation mode '{mode}'; available: {', '.join(NORMALIZE_MODES)}")


def normalize_dataset(raw, mode: str, layout: Optional[Layout] = None, **kw):
    """Apply :func:`normalize_sample` to every sample of a RawDataset; returns a new RawDataset.

    ``prenorm2d`` uses each row's ``img_h`` / ``img_w`` table columns when present (Kinetics HRNet:
    the video's own shape), else ``img_shape`` from ``kw``. ``layout`` defaults to ``raw.layout``.
    ``raw.extra['normalize']`` records the mode."""
    lay = layout or get_layout(raw.layout)
    names = list(raw.table["name"])
    per_row_shape = mode == "prenorm2d" and {"img_h", "img_w"} <= set(raw.table.columns)
    if per_row_shape:
        shapes = list(zip(raw.table["img_h"].astype(int), raw.table["img_w"].astype(int)))
    out = []
    for i, (x, name) in enumerate(zip(raw.samples, names)):
        opts = dict(kw)
        if per_row_shape and shapes[i][0] > 0 and shapes[i][1] > 0:
            opts["img_shape"] = shapes[i]
        y = normalize_sample(x, lay, mode, where=f"{raw.dataset}: sample '{name}'", **opts)
        if y.shape[1] == 0:
            raise DatasetError(f"{raw.dataset}: sample '{name}': no frame left after normalisation")
        out.append(y)
    extra = dict(raw.extra)
    extra["normalize"] = mode
    return dataclasses.replace(raw, samples=out, extra=extra)
