"""On-device batch data pipeline: temporal sampling, augmentation and stream (modality) generation.

The official per-sample order (docs/training.md) is

    PreNormalize3D → RandomScale → RandomRot → Flip → GenSkeFeat(stream) → UniformSample(L)

PreNormalize3D already ran at prepare time. The training engine keeps a split on the device as a
padded tensor ``joints`` (N, M=2, T_max, V, C) plus ``frames`` (N,) and builds each batch with
:func:`make_clips`, which reorders the remaining steps so that only the L sampled frames are touched:

1. sample the frame indices first (:func:`train_frame_indices` / :func:`test_frame_indices`);
2. gather those frames, plus the *following original* frame of each when the stream is a motion;
3. apply the per-sample augmentation to both;
4. compute the stream.

This equals the official order exactly: bones/skips are per-frame linear maps, scale and rotation
are per-sample linear maps of the coordinates, the flip is a joint permutation, and motion is
``m[t] = f[idx+1] − f[idx]`` (0 where ``idx == T−1``), i.e. between consecutive *original* frames
(docs/training.md, docs/methods.md). :func:`modality` is the full-sequence reference that the tests
use to check this equivalence.

Coordinates (``coords``):

- ``"xyz"``: C = 3, all three channels are coordinates (NTU, NW-UCLA).
- ``"xy+score"``: C = 3, channels (x, y, score) (COCO-17 / OpenPose-18 2D). Augmentation matrices
  act on x, y only; a bone/skip's score is the mean of its two joints' scores (a self pair keeps
  its own); a motion's score is the mean of the scores at t and t+1 (docs/datasets.md).
- ``"xy"``: C = 2, both channels are coordinates.
- ``"xyz+score"``: C = 4, channels (x, y, z, confidence) (e.g. a Kinect tracking state or a 3D
  pose estimator's score). Coordinates are treated as "xyz", the score channel as in "xy+score".

Augmentation modes (:class:`AugmentConfig`):

- ``"3d"`` (docs/training.md): RandomScale(0.1) then RandomRot(0.3) as one matrix R·S per
  sample, and a left/right flip with p = 0.5 that only permutes joint indices (no mirroring)
  [official code]. ``mirror=True`` also sets x ← −x on flipped samples (the ``flip.mode = mirror``
  ablation).
- ``"2d"`` (docs/training.md, docs/datasets.md): the official K400 config uses only an image-space
  flip. Coordinates are normalised and centred at prepare time, so the image-space flip
  x ← W − x becomes x ← −x (zero joints stay zero because it is linear), followed by the joint
  permutation. No scale, no rotation. The mirror is encoded in the returned matrix
  (diag(−1, 1, 1) on flipped samples), so :func:`make_clips` needs no special case.
  On *pixel* coordinates (``augment.flip_mode = image``, the released Kinetics pipeline) the flip is
  about the image centre, not the origin: :func:`image_flip` adds each flipped sample's width W to
  the mirrored x of its non-zero joints, i.e. x ← W − x where x ≠ 0, as pyskl's ``Flip`` does.

torch is imported lazily inside the tensor functions, so importing this module (e.g. for the numpy
samplers at parse time) stays light.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from benchmark.graphs import Layout

if TYPE_CHECKING:  # pragma: no cover
    import torch

STREAMS = ("j", "b", "k", "jm", "bm", "km")
COORDS = ("xyz", "xy+score", "xy", "xyz+score")
#: channels per joint of each coordinate format
COORD_CHANNELS = {"xyz": 3, "xy+score": 3, "xy": 2, "xyz+score": 4}
AUG_MODES = ("3d", "2d")


class TransformError(ValueError):
    """Bad arguments to the data pipeline (the message says what is wrong and how to fix it)."""


# =========================================================================== temporal sampling

def _check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 1:
        raise TransformError(f"{what} must be a 1-D array of per-sample frame counts, got shape {frames.shape}")
    if frames.size and int(frames.min()) < 1:
        bad = np.flatnonzero(frames < 1)[:5].tolist()
        raise TransformError(f"{what}: samples at batch positions {bad} have fewer than 1 valid frame; "
                             "every sample needs T >= 1 after normalisation (re-run prepare, or drop "
                             "empty samples)")
    return frames.astype(np.int64)


def train_frame_indices(frames: np.ndarray, clip_len: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform segment sampler for training, batched (docs/methods.md, pyskl ``UniformSample``).

    For every sample with T valid frames and clip length L:

    - T < L: random start s ~ U{0 … T−1}; indices s, s+1, …, s+L−1 (the clip loops).
    - L ≤ T < 2L: a uniform random subset P ⊂ {0 … L} of size T−L; index k = k + |{q ∈ P : q ≤ k}|.
    - T ≥ 2L: edges b_i = ⌊i·T/L⌋; index i = b_i + U{0 … b_{i+1} − b_i − 1}.

    All indices are returned modulo T. The ``p_interval`` crop is 1 (no crop) as in BRL.

    Args:
        frames: (B,) number of valid frames per sample (≥ 1).
        clip_len: L.
        rng: the generator of this batch (docs/training.md).
    Returns:
        (B, L) int64 frame indices in [0, T_b).
    """
    t = _check_frames(frames)
    L = int(clip_len)
    if L < 1:
        raise TransformError(f"clip_len must be >= 1, got {clip_len}")
    b = t.shape[0]
    k = np.arange(L, dtype=np.int64)
    out = np.empty((b, L), dtype=np.int64)

    loop = t < L
    if loop.any():
        tl = t[loop]
        start = rng.integers(0, tl)                       # one start per sample, U{0 … T−1}
        out[loop] = start[:, None] + k[None, :]

    mid = (t >= L) & (t < 2 * L)
    if mid.any():
        tm = t[mid]
        # A uniform (T−L)-subset of {0 … L} per row: the positions whose random key ranks among the
        # T−L smallest (all subsets of that size are equally likely).
        keys = rng.random((tm.shape[0], L + 1))
        ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
        chosen = ranks < (tm - L)[:, None]
        offset = np.cumsum(chosen, axis=1)[:, :L]       # |{q ∈ P : q ≤ k}|
        out[mid] = k[None, :] + offset

    seg = t >= 2 * L
    if seg.any():
        ts = t[seg]
        edges = (np.arange(L + 1, dtype=np.int64)[None, :] * ts[:, None]) // L
        size = np.diff(edges, axis=1)                    # ≥ 2 because T ≥ 2L
        out[seg] = edges[:, :L] + rng.integers(0, size)

    return out % t[:, None]


def train_frame_indices_device(frames: "torch.Tensor", clip_len: int, gen: "torch.Generator") -> "torch.Tensor":
    """:func:`train_frame_indices` drawn on ``frames``' device from the torch generator ``gen``
    (same three cases, same distribution, a different random stream), without any host
    synchronisation: no data-dependent branch, every case is computed for every row and the
    row's case is selected with ``torch.where``. ``frames``: (B,) int tensor, all ≥ 1 (checked
    by :func:`make_clips`). Uniform integers U{0 … n−1} are ⌊u·n⌋ with u ~ U[0, 1) in float64."""
    import torch

    L = int(clip_len)
    if L < 1:
        raise TransformError(f"clip_len must be >= 1, got {clip_len}")
    t = frames.long()
    b = t.shape[0]
    dev = t.device
    k = torch.arange(L, device=dev)
    u = torch.rand((b, 1 + (L + 1) + L), generator=gen, device=dev, dtype=torch.float64)
    # T < L: a random start, the clip loops
    start = (u[:, 0] * t).long()
    loop = start[:, None] + k[None, :]
    # L ≤ T < 2L: a uniform (T−L)-subset P of {0 … L}; index k + |{q ∈ P : q ≤ k}|
    keys = u[:, 1:L + 2]
    ranks = keys.argsort(dim=1).argsort(dim=1)
    chosen = ranks < (t - L)[:, None]
    mid = k[None, :] + chosen.long().cumsum(dim=1)[:, :L]
    # T ≥ 2L: one uniform frame per segment [⌊iT/L⌋, ⌊(i+1)T/L⌋)
    edges = (torch.arange(L + 1, device=dev)[None, :] * t[:, None]) // L
    size = edges[:, 1:] - edges[:, :L]
    seg = edges[:, :L] + (u[:, L + 2:] * size).long()
    out = torch.where((t < L)[:, None], loop, torch.where((t < 2 * L)[:, None], mid, seg))
    return torch.remainder(out, t[:, None])


def test_frame_indices(frames: int, clip_len: int, num_clips: int) -> np.ndarray:
    """Deterministic test/validation clips of one sample (docs/evaluation.md).

    A fresh legacy ``RandomState(255)`` per sample issues exactly the calls of the official
    sampler (which reseeds the global numpy RNG instead), so the indices match it bit for bit.
    For clip i = 0 … num_clips−1, in order: ``rand()`` (crop ratio, unused), ``randint(1)`` (crop
    offset, always 0), then

    - T < L: no draw; start s = i if T < num_clips else ⌊i·T/num_clips⌋; indices s … s+L−1;
    - L ≤ T < 2L: ``choice(L+1, T−L, replace=False)`` and the offsets of the training sampler;
    - T ≥ 2L: ``randint(b_{k+1} − b_k)`` (one array call), b_k = ⌊k·T/L⌋.

    (The spec writes "T < 10" and "⌊i·T/10⌋" for the 10-clip test; the official code uses the
    number of clips, which matters only for the 1-clip validation, where i = 0 anyway.)

    Returns:
        (num_clips, L) int64 indices modulo T.
    """
    t = int(frames)
    L = int(clip_len)
    if t < 1:
        raise TransformError(f"test_frame_indices: a sample has {t} valid frames; it needs at least 1")
    if L < 1 or int(num_clips) < 1:
        raise TransformError(f"clip_len and num_clips must be >= 1, got {clip_len}, {num_clips}")
    return _test_indices_cached(t, L, int(num_clips)).copy()


@lru_cache(maxsize=4096)
def _test_indices_cached(t: int, L: int, num_clips: int) -> np.ndarray:
    # The result depends only on (T, L, num_clips), so whole splits are served from this cache.
    rs = np.random.RandomState(255)
    clips = []
    for i in range(num_clips):
        rs.rand()          # crop ratio (p_interval = 1: unused, but it advances the stream)
        rs.randint(1)      # crop offset, always 0
        if t < L:
            start = i if t < num_clips else i * t // num_clips
            inds = np.arange(start, start + L, dtype=np.int64)
        elif t < 2 * L:
            chosen = rs.choice(L + 1, t - L, replace=False)
            offset = np.zeros(L + 1, dtype=np.int64)
            offset[chosen] = 1
            inds = np.arange(L, dtype=np.int64) + np.cumsum(offset)[:-1]
        else:
            edges = np.array([j * t // L for j in range(L + 1)], dtype=np.int64)
            inds = edges[:-1] + rs.randint(np.diff(edges))
        clips.append(inds.astype(np.int64) % t)
    out = np.stack(clips)
    out.setflags(write=False)
    return out


def test_frame_indices_batch(frames: np.ndarray, clip_len: int, num_clips: int) -> np.ndarray:
    """:func:`test_frame_indices` for a whole split: (N,) frame counts → (N, num_clips, L)."""
    t = _check_frames(frames)
    out = np.empty((t.shape[0], int(num_clips), int(clip_len)), dtype=np.int64)
    for value in np.unique(t):                     # one RandomState per distinct length, not per sample
        out[t == value] = test_frame_indices(int(value), clip_len, num_clips)
    return out


# pytest collects any imported callable named test_*; these are library functions, not tests.
test_frame_indices.__test__ = False  # type: ignore[attr-defined]
test_frame_indices_batch.__test__ = False  # type: ignore[attr-defined]


# =========================================================================== augmentation

@dataclass
class AugmentConfig:
    """Per-sample augmentation (docs/training.md).

    scale: RandomScale range s; factors 1 + U(−s, s), one per axis. ("3d" only)
    rotate: RandomRot range θ (rad); θx, θy, θz ~ U(−θ, θ). ("3d" only)
    flip_p: probability of the left/right flip.
    mode: "3d" (permute joints, no mirroring) or "2d" (image-space flip: mirror x and permute;
        no scale or rotation; see the module docstring).
    mirror: "3d" only: also mirror x on flipped samples (the ``flip.mode = mirror`` ablation).
    """

    scale: float = 0.1
    rotate: float = 0.3
    flip_p: float = 0.5
    mode: str = "3d"
    mirror: bool = False

    def __post_init__(self) -> None:
        if self.mode not in AUG_MODES:
            raise TransformError(f"AugmentConfig.mode must be one of {AUG_MODES}, got '{self.mode}'")
        if not (0.0 <= self.scale < 1.0):
            raise TransformError(f"AugmentConfig.scale must be in [0, 1), got {self.scale}")
        if self.rotate < 0:
            raise TransformError(f"AugmentConfig.rotate must be >= 0 (radians), got {self.rotate}")
        if not (0.0 <= self.flip_p <= 1.0):
            raise TransformError(f"AugmentConfig.flip_p must be a probability, got {self.flip_p}")


def rotation_matrices(theta: "torch.Tensor") -> "torch.Tensor":
    """R = R_z·R_y·R_x for angles (B, 3) = (θx, θy, θz), with the official conventions
    (docs/training.md): R_x = [[1,0,0],[0,c,s],[0,−s,c]], R_y = [[c,0,−s],[0,1,0],[s,0,c]],
    R_z = [[c,s,0],[−s,c,0],[0,0,1]]. Returns (B, 3, 3); p′ = R·p."""
    import torch

    c, s = torch.cos(theta), torch.sin(theta)
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])

    def mat(rows):
        return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)

    rx = mat([[one, zero, zero], [zero, c[:, 0], s[:, 0]], [zero, -s[:, 0], c[:, 0]]])
    ry = mat([[c[:, 1], zero, -s[:, 1]], [zero, one, zero], [s[:, 1], zero, c[:, 1]]])
    rz = mat([[c[:, 2], s[:, 2], zero], [-s[:, 2], c[:, 2], zero], [zero, zero, one]])
    return rz @ ry @ rx


def augment_params(batch_size: int, cfg: AugmentConfig, gen: "torch.Generator",
                   device=None) -> Tuple["torch.Tensor", "torch.Tensor"]:
    """Draw one augmentation per sample: (matrices (B, 3, 3) float32, flip_mask (B,) bool).

    "3d": M = R·S (RandomScale first, then RandomRot, docs/training.md), with
    S = diag(1 + U(−s, s)) per axis and R from :func:`rotation_matrices`; with ``mirror`` the
    flipped samples get M ← diag(−1, 1, 1)·M (the mirror acts after scale and rotation, as the
    flip does in the official order).
    "2d": M = diag(−1, 1, 1) on flipped samples and I otherwise (only the 2×2 xy block is used).

    The draws are always made in the same order (scale (B,3), angles (B,3), flip (B,)) whatever
    the config, on the generator's own device, so a run's random stream does not depend on the
    target device. Results are moved to ``device``.
    """
    import torch

    if batch_size < 0:
        raise TransformError(f"batch_size must be >= 0, got {batch_size}")
    gdev = gen.device
    u_scale = torch.rand(batch_size, 3, generator=gen, device=gdev, dtype=torch.float64)
    u_rot = torch.rand(batch_size, 3, generator=gen, device=gdev, dtype=torch.float64)
    u_flip = torch.rand(batch_size, generator=gen, device=gdev, dtype=torch.float64)
    flip = u_flip < cfg.flip_p

    mirror = torch.ones(batch_size, 3, device=gdev, dtype=torch.float64)
    if cfg.mode == "2d" or cfg.mirror:
        mirror[:, 0] = torch.where(flip, -1.0, 1.0)
    if cfg.mode == "3d":
        factors = 1.0 + (2.0 * u_scale - 1.0) * cfg.scale
        rot = rotation_matrices((2.0 * u_rot - 1.0) * cfg.rotate)
        mats = mirror[:, :, None] * (rot * factors[:, None, :])      # diag(mirror)·R·diag(factors)
    else:
        mats = torch.diag_embed(mirror)
    device = gdev if device is None else device
    return mats.to(device=device, dtype=torch.float32), flip.to(device)


# =========================================================================== streams

_INDEX_CACHE: dict = {}


def _device_index(values, device) -> "torch.Tensor":
    """A layout's fixed index vector (bone partners, flip permutation) on ``device``, copied there
    once per content and device: a host→device copy in every step would make the host wait for
    the GPU each time. Keyed by the values themselves, so two layouts never share an entry."""
    import torch

    arr = np.asarray(values, dtype=np.int64)
    k = (arr.tobytes(), arr.shape, str(device))
    t = _INDEX_CACHE.get(k)
    if t is None:
        t = torch.as_tensor(arr, device=device)
        _INDEX_CACHE[k] = t
    return t


def _check_stream(stream: str) -> None:
    if stream not in STREAMS:
        raise TransformError(f"unknown stream '{stream}'; available: {', '.join(STREAMS)}")


def _check_coords(coords: str, c: int) -> None:
    if coords not in COORDS:
        raise TransformError(f"unknown coords '{coords}'; available: {', '.join(COORDS)}")
    need = COORD_CHANNELS[coords]
    if c != need:
        raise TransformError(f"coords '{coords}' needs C = {need} channels, the data has C = {c}; "
                             "check the dataset's meta.json 'coords'")


def _geo_channels(coords: str) -> int:
    """Coordinate channels (3 for xyz formats, 2 for xy formats); any further channel is a score."""
    return 3 if coords.startswith("xyz") else 2


def _has_score(coords: str) -> bool:
    return coords.endswith("+score")


def aug_mode(coords: str) -> str:
    """The augmentation mode a coordinate format takes: "3d" for xyz / xyz+score, "2d" otherwise."""
    if coords not in COORDS:
        raise TransformError(f"unknown coords '{coords}'; available: {', '.join(COORDS)}")
    return "3d" if coords.startswith("xyz") else "2d"


@lru_cache(maxsize=None)
def _partner_index(layout: Layout, base: str) -> np.ndarray:
    """u[v] for the pairs (v, u) of the bone or skip stream, as an index array over joints."""
    pairs = layout.bone_pairs if base == "b" else layout.skip_pairs
    idx = np.arange(layout.num_node, dtype=np.int64)
    for v, u in pairs:
        idx[v] = u
    return idx


def _spatial(x: "torch.Tensor", base: str, layout: Layout, coords: str) -> "torch.Tensor":
    """j, b or k of x (..., V, C): b[..., v, :] = x[..., v, :] − x[..., u, :] over the pairs (v, u);
    for "xy+score" channel 2 is the mean of the two joints' scores (docs/methods.md)."""
    import torch

    if base == "j":
        return x
    if x.shape[-2] != layout.num_node:
        raise TransformError(f"data has V = {x.shape[-2]} joints but layout '{layout.name}' has "
                             f"{layout.num_node}; check the dataset's layout")
    partner = _device_index(_partner_index(layout, base), x.device)
    other = x.index_select(-2, partner)
    out = x - other
    if _has_score(coords):
        g = _geo_channels(coords)
        out = torch.cat([out[..., :g], (x[..., g:] + other[..., g:]) / 2], dim=-1)
    return out


def _motion(cur: "torch.Tensor", nxt: "torch.Tensor", last: "torch.Tensor", coords: str) -> "torch.Tensor":
    """m = nxt − cur, with score channel (cur + nxt)/2 for "xy+score", and 0 where ``last``
    (broadcastable boolean, True at the last valid frame) (docs/training.md, docs/datasets.md)."""
    import torch

    m = nxt - cur
    if _has_score(coords):
        g = _geo_channels(coords)
        m = torch.cat([m[..., :g], (cur[..., g:] + nxt[..., g:]) / 2], dim=-1)
    return m.masked_fill(last, 0.0)


def modality(x: "torch.Tensor", stream: str, layout: Layout, coords: str = "xyz") -> "torch.Tensor":
    """Stream of a full sequence x (..., T, V, C), all T frames valid (docs/training.md).

    j, b, k per frame; jm, bm, km: m[t] = f[t+1] − f[t] for t < T−1 and m[T−1] = 0 (all channels,
    including a score channel). Reference implementation for the official order.
    """
    import torch

    _check_stream(stream)
    _check_coords(coords, x.shape[-1])
    f = _spatial(x, stream[0], layout, coords)
    if not stream.endswith("m"):
        return f
    t = f.shape[-3]
    nxt = torch.cat([f[..., 1:, :, :], f[..., -1:, :, :]], dim=-3)   # the last row is masked below
    last = torch.zeros(t, 1, 1, dtype=torch.bool, device=f.device)
    last[-1] = True
    return _motion(f, nxt, last, coords)


def image_flip(aug: Tuple["torch.Tensor", "torch.Tensor"], widths: "torch.Tensor"):
    """The image-space flip of pixel coordinates (docs/training.md, docs/fidelity.md F16; pyskl's
    ``Flip``, used by the released K400 config): x ← W − x for every joint with x ≠ 0, W the flipped
    sample's own image width, then the left/right joint swap.

    ``aug`` = (matrices, flip_mask) of :func:`augment_params` in mode "2d", whose matrices already
    mirror x (x ← −x) on flipped samples; this adds the per-sample x shift W on those samples (0 on
    the others), which :func:`apply_augmentation` applies to non-zero x only, so padding and
    dropped joints stay at 0 as in pyskl. widths: (B,) image widths in pixels, > 0.
    Returns (matrices, flip_mask, x_shift)."""
    import torch

    mats, flip = aug
    widths = torch.as_tensor(widths, device=flip.device)
    if widths.shape != flip.shape:
        raise TransformError(f"image_flip: {tuple(widths.shape)} widths for a batch of {tuple(flip.shape)}")
    return mats, flip, torch.where(flip, widths.to(torch.float32), torch.zeros((), device=flip.device))


def apply_augmentation(x: "torch.Tensor", aug: Optional[Tuple["torch.Tensor", ...]],
                       layout: Layout, coords: str = "xyz") -> "torch.Tensor":
    """Apply per-sample (matrices (B,3,3), flip_mask (B,)[, x_shift (B,)]) to x (B, ..., V, C).

    Coordinates: p′ = M·p on the 3 channels ("xyz") or the xy channels with the 2×2 block of M
    ("xy+score", "xy"; a score channel is never touched). With an ``x_shift`` (from
    :func:`image_flip`) x′ ← x′ + shift on the joints whose input x ≠ 0, so a mirror about the
    origin becomes one about the image centre. Flipped samples then get new joint v = old joint
    flip[v]. Both commute (one acts on channels, the other on joints); the linear map keeps
    exactly-zero joints at zero and the shift skips them.
    """
    import torch

    if aug is None:
        return x
    mats, flip = aug[:2]
    shift = aug[2] if len(aug) > 2 else None
    b = x.shape[0]
    if mats.shape != (b, 3, 3) or flip.shape != (b,) or (shift is not None and shift.shape != (b,)):
        raise TransformError(f"augmentation parameters have shapes {[tuple(a.shape) for a in aug]}; "
                             f"expected ({b}, 3, 3), ({b},) and an optional ({b},) for a batch of {b}")
    mats = mats.to(device=x.device, dtype=x.dtype)
    flip = flip.to(device=x.device)
    nc = _geo_channels(coords)
    lead = x.shape[1:-1]
    flat = x.reshape(b, -1, x.shape[-1])                               # (B, P, C)
    geo = torch.bmm(flat[..., :nc], mats[:, :nc, :nc].transpose(1, 2))   # row vectors: p′ᵀ = pᵀ·Mᵀ
    if shift is not None:
        # pyskl mirrors only x != 0: a zero x is padding or a dropped joint, not the image's left edge
        gx = geo[..., :1]
        moved = gx + shift.to(device=x.device, dtype=x.dtype)[:, None, None]
        geo = torch.cat([torch.where(flat[..., :1] != 0, moved, gx), geo[..., 1:]], dim=-1)
    flat = torch.cat([geo, flat[..., nc:]], dim=-1) if nc < x.shape[-1] else geo
    out = flat.reshape(b, *lead, x.shape[-1])
    if x.shape[-2] != layout.num_node:
        raise TransformError(f"data has V = {x.shape[-2]} joints but layout '{layout.name}' has "
                             f"{layout.num_node}; check the dataset's layout")
    perm = _device_index(layout.flip, x.device)
    flipped = out.index_select(-2, perm)
    mask = flip.view(b, *([1] * (x.dim() - 1)))
    return torch.where(mask, flipped, out)


def make_clips(joints: "torch.Tensor", frames: "torch.Tensor", idx: "torch.Tensor", stream: str,
               layout: Layout, aug: Optional[Tuple["torch.Tensor", ...]],
               coords: str = "xyz", pre_stream=None) -> "torch.Tensor":
    """Build a batch of clips (B, M, L, V, C) from padded sequences (docs/training.md).

    Args:
        joints: (B, M, T_max, V, C) normalised joints, frames ≥ ``frames[b]`` are padding.
        frames: (B,) valid frame counts (≥ 1).
        idx: (B, L) frame indices (from :func:`train_frame_indices` or the test clips); taken
            modulo ``frames`` here too.
        stream: j, b, k, jm, bm, km.
        layout: the dataset's joint layout (pairs and flip permutation).
        aug: (matrices, flip_mask) from :func:`augment_params`, with an x shift from
            :func:`image_flip` for pixel coordinates, or None for no augmentation.
        coords: "xyz", "xy+score" or "xy" (the dataset's meta ``coords``).
        pre_stream: optional callable applied to the augmented joints (B, M, L or 2L, V, C) before
            the stream is computed (RPM with ``rpm_stage = joints``). For motion streams the
            second half of the time axis holds each sampled frame's next original frame; a
            per-joint-slot mixing acts on both halves alike, so motion is that of the mixed joints.

    Equals "augment the full sequence → :func:`modality` → gather idx" (the official order)
    because every step is per-frame or per-sample linear; motion uses the original next frame.
    For test-time clips flatten (N, num_clips, L) into (N·num_clips, L) and repeat the samples.
    """
    import torch

    _check_stream(stream)
    if joints.dim() != 5:
        raise TransformError(f"joints must be (B, M, T_max, V, C), got shape {tuple(joints.shape)}")
    b, m, t_max, v, c = joints.shape
    _check_coords(coords, c)
    frames = torch.as_tensor(frames, device=joints.device).long()
    idx = torch.as_tensor(idx, device=joints.device).long()
    if frames.shape != (b,) or idx.dim() != 2 or idx.shape[0] != b:
        raise TransformError(f"frames {tuple(frames.shape)} and idx {tuple(idx.shape)} must be ({b},) "
                             f"and ({b}, L) for joints of batch size {b}")
    if b and frames.device.type == "cpu":
        if int(frames.min()) < 1 or int(frames.max()) > t_max:
            raise TransformError(f"frames must lie in [1, T_max = {t_max}], got min {int(frames.min())}, "
                                 f"max {int(frames.max())}")
    elif b:
        # On an accelerator the same check runs asynchronously (no host synchronisation per batch);
        # a violation fails at the next synchronisation point with this message.
        torch._assert_async(((frames >= 1) & (frames <= t_max)).all(),
                            f"make_clips: frames must lie in [1, T_max = {t_max}]")
    L = idx.shape[1]
    idx = torch.remainder(idx, frames[:, None])
    motion = stream.endswith("m")
    if motion:
        # The next ORIGINAL frame; at the last valid frame the motion is zero (clamped, then masked).
        nxt = torch.minimum(idx + 1, (frames - 1)[:, None])
        gather_t = torch.cat([idx, nxt], dim=1)                      # (B, 2L)
    else:
        gather_t = idx
    index = gather_t[:, None, :, None, None].expand(b, m, gather_t.shape[1], v, c)
    x = torch.gather(joints, 2, index)                                # (B, M, L or 2L, V, C)
    x = apply_augmentation(x, aug, layout, coords)
    if pre_stream is not None:
        x = pre_stream(x)
    f = _spatial(x, stream[0], layout, coords)
    if not motion:
        return f
    last = (idx == (frames - 1)[:, None])[:, None, :, None, None]     # (B, 1, L, 1, 1)
    return _motion(f[:, :, :L], f[:, :, L:], last, coords)
