"""Batch-level mixing on the model-input tensor X ∈ R^{B×M×T×V×C}: RPM (BRL), Mixup, Remix.

Index bookkeeping (which samples, which partners: at most B entries) happens on the CPU with a numpy
generator derived from the engine's per-step torch generator's *seed* (a host value, so deriving it
never waits for the device); the few indices go to X's device as one asynchronous pinned copy, and
the tensor work is one vectorised gather per batch there. Nothing here synchronises the host with
an accelerator, so a GPU step never stalls on the mixing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
import torch

from methods._base import MethodConfigError, Targets
from methods._formulas import remix_label_lambda, rpm_label_lambda

#: this shared helper's version: part of the effective version of every method that imports it
#: (methods.effective_version), so bumping it redoes exactly those methods' runs
VERSION = "1"

PLACEMENTS = ("inplace", "concat")
GRANULARITIES = ("per_sample", "batch_scalar")
PARTNER_POOLS = ("independent", "sequential")
BATCH_UNITS = ("global", "device")


#: second seed word of the mixing stream, so that it differs from any other use of the step seed
_MIX_STREAM = 0x6D6978


def numpy_rng_from(gen: torch.Generator) -> np.random.Generator:
    """A numpy Generator for the mixing draws of one step, seeded by the engine's per-step torch
    generator's seed (itself derived from (run seed, step)). ``initial_seed()`` is read on the
    host, so this costs no device synchronisation, unlike drawing a seed from a CUDA generator."""
    return np.random.default_rng([int(gen.initial_seed()), _MIX_STREAM])


def to_device(values, device) -> torch.Tensor:
    """Small host index list/array → int64 tensor on ``device`` without a host sync (a pinned,
    non-blocking copy on CUDA; a plain tensor on the CPU)."""
    t = torch.as_tensor(np.asarray(values, dtype=np.int64))
    device = torch.device(device)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


# ============================================================================ RPM (docs/methods.md)
@dataclass(frozen=True)
class RPMConfig:
    """Options of rebalanced partial mixup; names follow docs/methods.md and flags F1–F6."""

    ratio: float = 1.0 / 16          # ρ: share of the batch that is mixed
    k: float = 3.0                   # imbalance threshold
    lambda_x: float = 0.64           # |U|/V (resolved from the layout by the method)
    placement: str = "inplace"       # F1
    granularity: str = "per_sample"  # F2
    boundary: str = "inclusive"      # F4
    partner_pool: str = "independent"  # F5
    batch_unit: str = "global"       # F6
    device_batch: int = 16           # per-device batch b for batch_unit = device
    rebalance: bool = True           # False: plain partial mixup (λ_y ≡ λ_x)

    def __post_init__(self) -> None:
        for name, value, allowed in (("rpm_placement", self.placement, PLACEMENTS),
                                     ("rpm_lambda_granularity", self.granularity, GRANULARITIES),
                                     ("rpm_rule_boundary", self.boundary, ("inclusive", "strict")),
                                     ("rpm_partner_pool", self.partner_pool, PARTNER_POOLS),
                                     ("rpm_batch_unit", self.batch_unit, BATCH_UNITS)):
            if value not in allowed:
                raise MethodConfigError(f"option {name}={value!r} is not one of {list(allowed)}")
        if not 0 <= self.ratio <= 1:
            raise MethodConfigError(f"rpm_ratio must lie in [0, 1], got {self.ratio}")
        if self.device_batch < 1:
            raise MethodConfigError(f"rpm_device_batch must be ≥ 1, got {self.device_batch}")


def num_mixed(batch: int, ratio: float) -> int:
    """m = ⌊ρ·B⌋ (8 at B = 128, 1 at B = 16, 0 for a short final batch below 16)."""
    return int(math.floor(batch * ratio + 1e-9))


def independent_pairs(batch: int, m: int, rng: np.random.Generator) -> List[Tuple[int, int]]:
    """Paper mode: m distinct targets, each with a partner uniform over the other B − 1 positions."""
    if m <= 0 or batch < 2:
        return []
    targets = np.sort(rng.choice(batch, size=m, replace=False))
    partners = (targets + 1 + rng.integers(0, batch - 1, size=m)) % batch
    return list(zip(targets.tolist(), partners.tolist()))


def sequential_pairs(batch: int, m: int, rng: np.random.Generator) -> List[Tuple[int, int]]:
    """official_code F5: targets processed in index order over a list that shrinks while iterated.

    Each processed target is removed from the candidate pool before its partner is drawn from what
    remains; removing it also makes the iteration skip the next list entry, so a target directly
    following another target stays unmixed (docs/fidelity.md F5)."""
    if m <= 0 or batch < 2:
        return []
    selected = set(rng.choice(batch, size=m, replace=False).tolist())
    pool = list(range(batch))
    pairs = []
    pos = 0
    while pos < len(pool):
        i = pool[pos]
        if i in selected:
            pool.pop(pos)
            if pool:
                pairs.append((i, pool[int(rng.integers(0, len(pool)))]))
        pos += 1   # after a pop this skips the element that moved into position `pos`
    return pairs


def rpm_pairs(batch: int, cfg: RPMConfig, rng: np.random.Generator) -> List[List[Tuple[int, int]]]:
    """Pairs (i, j) grouped by device chunk (one group for batch_unit = global)."""
    unit = batch if cfg.batch_unit == "global" else cfg.device_batch
    draw = independent_pairs if cfg.partner_pool == "independent" else sequential_pairs
    groups = []
    for start in range(0, batch, unit):
        b = min(unit, batch - start)
        groups.append([(start + i, start + j) for i, j in draw(b, num_mixed(b, cfg.ratio), rng)])
    return groups


def partial_mix(x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, upper: Sequence[int],
                lower: Sequence[int], placement: str = "inplace") -> torch.Tensor:
    """Mixed samples for pairs (i, j): upper-body joints U from X_i, lower-body joints L from X_j.

    ``inplace``: every joint keeps its index (paper Eq. 3, concrete form).
    ``concat``: slots 0…|U|−1 hold X_i[U] in list order, slots |U|…V−1 hold X_j[L] (F1, docs/methods.md).
    Coordinates are not scaled. Returns a (len(i), M, T, V, C) tensor."""
    up = to_device(list(upper), x.device)
    lo = to_device(list(lower), x.device)
    xi, xj = x[i], x[j]
    if placement == "concat":
        return torch.cat([xi.index_select(3, up), xj.index_select(3, lo)], dim=3)
    if placement == "inplace":
        out = xi.clone()
        out[:, :, :, lo] = xj.index_select(3, lo)
        return out
    raise MethodConfigError(f"rpm_placement must be one of {list(PLACEMENTS)}, got '{placement}'")


def rebalanced_partial_mixup(x: torch.Tensor, y: torch.Tensor, counts: torch.Tensor, upper: Sequence[int],
                             lower: Sequence[int], cfg: RPMConfig, gen: torch.Generator) -> Tuple[torch.Tensor, Targets]:
    """RPM on a collated batch (docs/methods.md algorithm; flags F1, F2, F4, F5, F6).

    Sources are always the unmixed batch. Unmixed samples get targets (y, y, 1). Per-sample λ_y by
    default; with ``batch_scalar`` every sample of a (device) batch carries the λ_y of its last mixed
    pair, starting at 0 (neutral when nothing is mixed, since y_b = y there)."""
    if x.dim() != 5:
        raise MethodConfigError(f"RPM expects the model input (B, M, T, V, C), got shape {tuple(x.shape)}")
    v = x.shape[3]
    if sorted(list(upper) + list(lower)) != list(range(v)):
        raise MethodConfigError(f"RPM: the layout's upper/lower joint sets do not partition the {v} joints "
                                "of the input; check the dataset's layout")
    batch = x.shape[0]
    groups = rpm_pairs(batch, cfg, numpy_rng_from(gen))
    targets = Targets.plain(y)
    pairs = [p for g in groups for p in g]
    if not pairs:
        return x, targets
    dev = x.device
    i = to_device([p[0] for p in pairs], dev)
    j = to_device([p[1] for p in pairs], dev)
    mixed = partial_mix(x, i, j, upper, lower, cfg.placement)
    x_out = x.clone()
    x_out[i] = mixed
    lam_pair = rpm_label_lambda(counts[y[i]], counts[y[j]], cfg.k, cfg.lambda_x, cfg.boundary,
                                cfg.rebalance).to(torch.float32)
    y_b = y.clone()
    y_b[i] = y[j]
    lam = torch.ones(batch, dtype=torch.float32, device=dev)
    if cfg.granularity == "per_sample":
        lam[i] = lam_pair
    else:
        unit = batch if cfg.batch_unit == "global" else cfg.device_batch
        k = 0
        for g_idx, group in enumerate(groups):
            start = g_idx * unit
            stop = min(start + unit, batch)
            last = lam_pair[k + len(group) - 1] if group else torch.zeros((), device=dev)
            lam[start:stop] = last
            k += len(group)
    return x_out, Targets(y, y_b, lam)


# ============================================================================ Mixup / Remix (docs/methods.md)
def beta_draw(alpha: float, rng: np.random.Generator) -> float:
    if alpha <= 0:
        return 1.0
    return float(rng.beta(alpha, alpha))


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, gen: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor, float]:
    """X̃ = λX + (1 − λ)X_π with λ ~ Beta(α, α) once per batch and π a random permutation (Zhang et al.)."""
    rng = numpy_rng_from(gen)
    lam = beta_draw(alpha, rng)
    perm = to_device(rng.permutation(x.shape[0]), x.device)
    return lam * x + (1.0 - lam) * x[perm], perm, lam


def mixup_batch(x: torch.Tensor, y: torch.Tensor, alpha: float, gen: torch.Generator) -> Tuple[torch.Tensor, Targets]:
    x_mix, perm, lam = mixup(x, y, alpha, gen)
    return x_mix, Targets(y, y[perm], torch.full((x.shape[0],), lam, dtype=torch.float32, device=x.device))


def remix_batch(x: torch.Tensor, y: torch.Tensor, counts: torch.Tensor, alpha: float, kappa: float, tau: float,
                gen: torch.Generator) -> Tuple[torch.Tensor, Targets]:
    """Remix: Mixup inputs, per-pair label weight from the class-count rule (Chou et al.; docs/methods.md)."""
    x_mix, perm, lam = mixup(x, y, alpha, gen)
    lam_y = remix_label_lambda(counts[y], counts[y[perm]], lam, kappa, tau).to(torch.float32)
    return x_mix, Targets(y, y[perm], lam_y)
