"""Pure formulas shared by the methods: class counts, class weights, margins, label rules, losses.

Every function names the paper equation it implements; docs/methods.md explains each formula.
Count/weight functions work on numpy arrays (float64, as the spec's worked numbers were computed);
loss functions work on torch tensors and return *per-sample* losses so that one reduction helper
(:func:`mixed_reduce`) serves every method, mixed labels included.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from methods._base import MethodConfigError, MethodContext, Targets

#: this shared helper's version: part of the effective version of every method that imports it
#: (methods.effective_version), so bumping it redoes exactly those methods' runs
VERSION = "1"

REDUCTIONS = ("batch_mean", "weighted_mean")


# ====================================================================== class counts (docs/methods.md, F7)
def formula_counts(num_classes: int, n_max: float, ratio: float) -> np.ndarray:
    """n_c = ⌊n_max · IF^(−c/(C−1))⌋ (docs/methods.md); same arithmetic as benchmark.data.splits.lt_profile."""
    from benchmark.data.splits import lt_profile
    return lt_profile(int(num_classes), int(n_max), float(ratio)).astype(np.int64)


def official_profile_ratio(ctx: MethodContext) -> float:
    """F7: the official code fixes IF at 10 for NW-UCLA and at 100 for NTU, whatever the run's IF."""
    layout_name = getattr(ctx.layout, "name", "")
    if layout_name == "nw_ucla20":
        return 10.0
    if layout_name == "ntu25":
        return 100.0
    # Other layouts (e.g. Kinetics) have no official counts file: extrapolate with the run's profile.
    ratio = ctx.lt_profile.get("ratio", 100.0)
    if ratio is None or str(ratio) == "natural":
        raise MethodConfigError("the official closed-form counts (F7) need an imbalance factor; a natural "
                                "long tail has none (use the actual counts)")
    return float(ratio)


def has_formula_profile(ctx: MethodContext) -> bool:
    """F7 applies only to a synthetic exponential profile (n_max and a numeric IF). On a natural
    long tail (Kinetics: lt.ratio = natural, no n_max) the official code has no counts either, so
    the actual counts of the training list are used in both modes."""
    n_max = ctx.lt_profile.get("n_max")
    ratio = ctx.lt_profile.get("ratio", 100.0)
    layout_name = getattr(ctx.layout, "name", "")
    fixed_if = layout_name in ("nw_ucla20", "ntu25")
    return n_max is not None and (fixed_if or (ratio is not None and str(ratio) != "natural"))


def resolve_counts(ctx: MethodContext, source: str = "actual", *, method: str = "",
                   clamp_min: Optional[int] = None) -> np.ndarray:
    """Class counts a method uses: ``actual`` (paper mode, docs/methods.md) or ``formula`` (official_code, F7).

    ``formula`` needs ``ctx.lt_profile['n_max']``; without it (natural long tail, e.g. K400) the
    actual counts are used, as the official code has no counts there either. Zero counts are an
    error unless ``clamp_min`` is given (Balanced Softmax / LA clamp counts to ≥ 1, docs/methods.md)."""
    counts = np.asarray(ctx.class_counts, dtype=np.int64).reshape(-1)
    if counts.shape[0] != ctx.num_classes:
        raise MethodConfigError(f"method '{method}': class_counts has {counts.shape[0]} entries but the "
                                f"dataset has {ctx.num_classes} classes; recount the LT training list")
    if (counts < 0).any():
        raise MethodConfigError(f"method '{method}': negative class counts {counts.tolist()}")
    if source == "formula":
        if has_formula_profile(ctx):
            counts = formula_counts(ctx.num_classes, ctx.lt_profile["n_max"], official_profile_ratio(ctx))
    elif source != "actual":
        raise MethodConfigError(f"method '{method}': counts_source must be 'actual' or 'formula', got '{source}'")
    if clamp_min is not None:
        return np.maximum(counts, clamp_min)
    empty = np.flatnonzero(counts == 0)
    if empty.size and source == "formula" and has_formula_profile(ctx):
        raise MethodConfigError(f"method '{method}': the official-code closed-form counts (F7: n_max = "
                                f"{ctx.lt_profile['n_max']}, IF = {official_profile_ratio(ctx):g}) are 0 for "
                                f"class(es) {empty.tolist()}; use counts_source=actual for this dataset")
    if empty.size:
        raise MethodConfigError(f"method '{method}': class(es) {empty.tolist()} have no training samples, "
                                "but this method needs n_c ≥ 1 for every class; check the LT split list "
                                "or the dataset's class list")
    return counts


def frequency_rank(counts: np.ndarray) -> np.ndarray:
    """Class indices by count, descending, ties by ascending index (docs/methods.md)."""
    counts = np.asarray(counts)
    return np.lexsort((np.arange(len(counts)), -counts))


def rank_of(counts: np.ndarray) -> np.ndarray:
    """r(c): position of class c in the frequency rank."""
    order = frequency_rank(counts)
    r = np.empty(len(order), dtype=np.int64)
    r[order] = np.arange(len(order))
    return r


def tail_third(counts: np.ndarray, rule: str = "rank") -> np.ndarray:
    """Boolean mask of the tail set 𝒯 of the reverse sampler (docs/methods.md, F15).

    ``rank``: the C − 2⌊C/3⌋ least frequent classes; ``index``: class index ≥ 2⌊C/3⌋."""
    c = len(counts)
    start = 2 * (c // 3)
    if rule == "rank":
        return rank_of(counts) >= start
    if rule == "index":
        return np.arange(c) >= start
    raise MethodConfigError(f"sampler_tail_rule must be 'rank' or 'index', got '{rule}'")


# ====================================================================== class weights
def _sum_to_c(g: np.ndarray) -> np.ndarray:
    return len(g) * g / g.sum()


def action_aware_beta(counts: np.ndarray, upsilon: float = 0.99, lam: float = 0.0099) -> np.ndarray:
    """β_y = λ_AA·(n_y − n_min)/(n_max − n_min) + υ (BRL paper Eq. 7; docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    span = n.max() - n.min()
    if span == 0:
        return np.full_like(n, upsilon + lam)
    return lam * (n - n.min()) / span + upsilon


def effective_number_gamma(beta: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """γ = (1 − β)/(1 − β^n) (paper Eq. 9; CB loss of Cui et al.)."""
    beta = np.asarray(beta, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    return (1.0 - beta) / (1.0 - np.power(beta, n))


def action_aware_weights(counts: np.ndarray, upsilon: float = 0.99, lam: float = 0.0099,
                         normalize: str = "sum_to_C", flipped: bool = False) -> np.ndarray:
    """Action-aware class weights (paper Eqs. 7–9, docs/methods.md).

    ``normalize='sum_to_C'`` gives w = C·γ/Σγ (both modes); ``'none'`` the literal Eq. 10 γ.
    ``flipped=True`` uses β′ = 1 − β: the weights of the official code's alternate epochs (F9).
    If n_max = n_min every weight is 1 [suite]."""
    n = np.asarray(counts, dtype=np.float64)
    if n.max() == n.min():
        return np.ones_like(n)
    beta = action_aware_beta(n, upsilon, lam)
    if flipped:
        beta = 1.0 - beta
    g = effective_number_gamma(beta, n)
    if normalize == "sum_to_C":
        return _sum_to_c(g)
    if normalize == "none":
        return g
    raise MethodConfigError(f"aa_normalize must be 'sum_to_C' or 'none', got '{normalize}'")


def class_balanced_weights(counts: np.ndarray, beta: float) -> np.ndarray:
    """CB weights w_c ∝ (1 − β)/(1 − β^{n_c}), Σ_c w_c = C (Cui et al. 2019; docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    return _sum_to_c(effective_number_gamma(np.full_like(n, beta), n))


def inverse_frequency_weights(counts: np.ndarray, normalize: str = "sum_to_C") -> np.ndarray:
    """Weighted softmax (docs/methods.md): w_c = C·(1/n_c)/Σ_k(1/n_k); ``'N_over_n'``: w_c = N/n_c (official intent)."""
    n = np.asarray(counts, dtype=np.float64)
    if normalize == "sum_to_C":
        return _sum_to_c(1.0 / n)
    if normalize == "N_over_n":
        return n.sum() / n
    raise MethodConfigError(f"weights must be 'sum_to_C' or 'N_over_n', got '{normalize}'")


def ldam_margins(counts: np.ndarray, max_m: float = 0.5) -> np.ndarray:
    """Δ_c = max_m·(n_min/n_c)^(1/4) (Cao et al. 2019; docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    return max_m * np.power(n.min() / n, 0.25)


def kps_scales(counts: np.ndarray) -> np.ndarray:
    """s_c = 1 + ln(n_c/n_min)/ln 50 (KPS, docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    return 1.0 + np.log(n / n.min()) / math.log(50.0)


def kps_mirror_scales(counts: np.ndarray) -> np.ndarray:
    """s_{(C−1−r(c))}: the scale of the class at the mirrored frequency rank (docs/methods.md)."""
    s = kps_scales(counts)
    order = frequency_rank(counts)          # order[q] = class at rank q
    return s[order][len(s) - 1 - rank_of(counts)]


def kps_margins(counts: np.ndarray, max_m: float = 0.2) -> np.ndarray:
    """m_c = max_m · s_{(C−1−r(c))} / max_k s_k, largest for the rarest class (docs/methods.md, mirror form)."""
    s = kps_scales(counts)
    return max_m * kps_mirror_scales(counts) / s.max()


def kps_ga_scales(counts: np.ndarray, s: float = 15.0, cap: float = 50.0) -> np.ndarray:
    """Per-class GA scale S = clamp(s·s_{(C−1−r(c))}, s, cap) (docs/methods.md stage 2)."""
    return np.clip(s * kps_mirror_scales(counts), s, cap)


def log_prior(counts: np.ndarray) -> np.ndarray:
    """log π_c = log(n_c/N) (LA, docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    return np.log(n / n.sum())


def eql_tail_mask(counts: np.ndarray, lam: float) -> np.ndarray:
    """SEQL tail set: frequency f_c = n_c/N < λ (Tan et al. 2020; docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    return n / n.sum() < lam


def eql_official_tail_mask(counts: np.ndarray) -> np.ndarray:
    """BRL's inverted-EQL tail: n_c < n of the class at frequency rank 2⌊C/3⌋ (docs/methods.md official_code)."""
    n = np.asarray(counts)
    threshold = n[frequency_rank(n)][2 * (len(n) // 3)]
    return n < threshold


def gumbel_bias_init(num_classes: int) -> float:
    """b = −ln ln C so that η(b) = 1/C at the start (docs/methods.md)."""
    return -math.log(math.log(num_classes))


# ====================================================================== label rules
def rpm_label_lambda(n_a, n_b, k: float = 3.0, lambda_x: float = 0.64, boundary: str = "inclusive",
                     rebalance: bool = True):
    """RPM label weight λ_y (BRL paper Eqs. 4–5; docs/methods.md, F4). Works on arrays or tensors.

    λ_y = 0 if n_a > k·n_b; else 1 if k·n_a ≤ n_b (``inclusive``, paper) / n_b > k·n_a (``strict``,
    official); else λ_x. ``rebalance=False`` gives plain partial mixup (λ_y ≡ λ_x)."""
    if isinstance(n_a, torch.Tensor):
        n_a, n_b = n_a.double(), n_b.double()
        lam = torch.full_like(n_a, float(lambda_x))
        where = torch.where
    else:
        n_a, n_b = np.asarray(n_a, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
        lam = np.full(np.broadcast(n_a, n_b).shape, float(lambda_x))
        where = np.where
    if not rebalance:
        return lam
    if boundary == "inclusive":
        to_a = k * n_a <= n_b
    elif boundary == "strict":
        to_a = n_b > k * n_a
    else:
        raise MethodConfigError(f"rpm_rule_boundary must be 'inclusive' or 'strict', got '{boundary}'")
    lam = where(to_a, lam * 0 + 1.0, lam)
    lam = where(n_a > k * n_b, lam * 0, lam)     # checked first in the spec, so it wins
    return lam


def remix_label_lambda(n_i, n_j, lam_x, kappa: float = 3.0, tau: float = 0.5):
    """Remix label weight (Chou et al. 2020; docs/methods.md). Arrays or tensors.

    0 if n_i/n_j ≥ κ and λ_x < τ; 1 if n_i/n_j ≤ 1/κ and 1 − λ_x < τ; λ_x otherwise."""
    if isinstance(n_i, torch.Tensor):
        n_i, n_j = n_i.double(), n_j.double()
        # a fill, not a host→device copy of the scalar (no sync inside the training step)
        lam_x = (torch.full_like(n_i, float(lam_x)) if not isinstance(lam_x, torch.Tensor)
                 else lam_x.to(device=n_i.device, dtype=torch.float64).expand_as(n_i))
        where = torch.where
    else:
        n_i, n_j = np.asarray(n_i, dtype=np.float64), np.asarray(n_j, dtype=np.float64)
        lam_x = np.broadcast_to(np.asarray(lam_x, dtype=np.float64), np.broadcast(n_i, n_j).shape)
        where = np.where
    # compare n_i ≥ κ·n_j rather than the ratio: 24/8 == 3 must hold exactly (docs/methods.md)
    to_j = (n_i >= kappa * n_j) & (lam_x < tau)
    to_i = (kappa * n_i <= n_j) & ((1 - lam_x) < tau)
    lam = where(to_i, lam_x * 0 + 1.0, lam_x * 1.0)
    return where(to_j, lam * 0, lam)


# ====================================================================== schedules (docs/methods.md)
def fraction_switch(ctx: MethodContext, fraction: float) -> int:
    """t_s = ⌊φ·T_tot⌋ (paper-mode and original-method switches)."""
    return int(math.floor(fraction * ctx.total_iters + 1e-9))


def epoch_switch(ctx: MethodContext, epoch: int) -> int:
    """t_s = e_s·I (official_code switches)."""
    return int(epoch) * ctx.iters_per_epoch


def detached_switch(ctx: MethodContext, detached_epochs: int = 20, reference_epochs: int = 120) -> int:
    """t_s = ⌊T_tot·(E − d)/E⌋ with E = 120, d = 20: the detached stage is the last 20 of 120
    effective epochs, i.e. t_s = ⌊T_tot·5/6⌋ (BRL paper; docs/methods.md). Stated as a fraction of
    the reference length so that shortened (demo) schedules keep the same proportions."""
    e, d = int(reference_epochs), int(detached_epochs)
    if e <= 0 or not 0 <= d <= e:
        raise MethodConfigError(f"detached stage of {d} effective epochs out of {e} is impossible")
    return (ctx.total_iters * (e - d)) // e


# ====================================================================== per-sample losses
def ce_per_sample(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CE(z, y) = −z_y + logsumexp(z), per sample."""
    return -F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)


def focal_per_sample(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Softmax focal loss −(1 − p_y)^γ·log p_y, modulating factor not detached (Lin et al.; docs/methods.md)."""
    logp = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    return -torch.pow(1.0 - logp.exp(), gamma) * logp


def margin_logits(logits: torch.Tensor, y: torch.Tensor, margins: torch.Tensor) -> torch.Tensor:
    """z − Δ_y·e_y: subtract the class margin from the true-class logit only (LDAM/KPS)."""
    return logits - F.one_hot(y, logits.shape[1]).to(logits.dtype) * margins[y][:, None]


def gumbel_eta(logits: torch.Tensor, lo: float = -4.0, hi: float = 10.0) -> torch.Tensor:
    """η(z) = exp(−exp(−clamp(z, lo, hi))), the Gumbel CDF (Alexandridis et al. 2022; docs/methods.md)."""
    return torch.exp(-torch.exp(-logits.clamp(lo, hi)))


def gumbel_bce_per_sample(logits: torch.Tensor, y: torch.Tensor, per_element: bool = False) -> torch.Tensor:
    """Σ_c −[1(c=y)·log η + 1(c≠y)·log(1 − η)] on clamped logits (GOL classification part, docs/methods.md).

    log η = −exp(−ẑ) and log(1 − η) = log(−expm1(−exp(−ẑ))) are used directly for stability.
    ``per_element`` divides by C (the authors' simplified snippet)."""
    zc = logits.clamp(-4.0, 10.0)
    e = torch.exp(-zc)
    log_eta = -e
    log_1m = torch.log(-torch.expm1(-e))
    onehot = F.one_hot(y, logits.shape[1]).to(logits.dtype)
    loss = -(onehot * log_eta + (1 - onehot) * log_1m).sum(dim=1)
    return loss / logits.shape[1] if per_element else loss


# ====================================================================== reductions (docs/methods.md, F11)
def mixed_reduce(loss_a: torch.Tensor, loss_b: torch.Tensor, targets: Targets,
                 class_weights: Optional[torch.Tensor] = None, reduction: str = "batch_mean") -> torch.Tensor:
    """Combine per-sample losses for the two label vectors of mixed targets.

    BM: (1/B)·Σ_i [λ_i·w_{y_a}·ℓ_a + (1 − λ_i)·w_{y_b}·ℓ_b] (docs/methods.md).
    WM: λ̄·Σ w_a ℓ_a/Σ w_a + (1 − λ̄)·Σ w_b ℓ_b/Σ w_b with λ̄ the batch λ (F11; equals
    ``methods._base.mixed_cross_entropy`` for CE)."""
    if class_weights is None:
        w_a = w_b = torch.ones_like(loss_a)
    else:
        w_a, w_b = class_weights[targets.y_a], class_weights[targets.y_b]
    lam = targets.lam.to(loss_a.dtype)
    if reduction == "batch_mean":
        return (lam * w_a * loss_a + (1 - lam) * w_b * loss_b).mean()
    if reduction == "weighted_mean":
        lb = lam.mean()
        return lb * (w_a * loss_a).sum() / w_a.sum() + (1 - lb) * (w_b * loss_b).sum() / w_b.sum()
    raise MethodConfigError(f"unknown reduction '{reduction}'; use one of {REDUCTIONS}")


def per_sample_pair(fn, logits: torch.Tensor, targets: Targets, **kw) -> Tuple[torch.Tensor, torch.Tensor]:
    """(ℓ(z, y_a), ℓ(z, y_b)); computes once when the two label vectors are the same tensor
    (unmixed batches: ``Targets.plain``). Equal-valued but distinct tensors are computed twice
    (same result) rather than compared, because a value comparison would synchronise the host
    with the device in every step."""
    la = fn(logits, targets.y_a, **kw)
    if targets.y_b is targets.y_a:
        return la, la
    return la, fn(logits, targets.y_b, **kw)


_WEIGHTS_CACHE: dict = {}


def device_array(w: np.ndarray, device, dtype=torch.float64) -> torch.Tensor:
    """A fixed per-class numpy array (counts, masks) on ``device``, copied once (see
    :func:`weights_tensor`); for the tensors a method needs in every training step."""
    return weights_tensor(w, torch.empty(0, dtype=dtype, device=device))


def weights_tensor(w: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """``w`` as a tensor with ``like``'s dtype and device.

    Per-class weights are fixed numpy arrays that losses need in every step; the device copy is
    made once per (array, dtype, device) and reused, because a host→device copy of pageable
    memory synchronises the host with the GPU. The cache keeps a reference to the array (so its
    id stays unique) and compares contents, so an array changed in place is copied again."""
    key = (id(w), like.dtype, str(like.device))
    hit = _WEIGHTS_CACHE.get(key)
    if hit is not None and hit[0] is w and np.array_equal(hit[1], w):
        return hit[2]
    t = torch.as_tensor(np.asarray(w, dtype=np.float64), dtype=like.dtype, device=like.device)
    if isinstance(w, np.ndarray):
        if len(_WEIGHTS_CACHE) > 256:
            _WEIGHTS_CACHE.clear()
        _WEIGHTS_CACHE[key] = (w, np.array(w, copy=True), t)
    return t


def check_choice(method: str, option: str, value, choices) -> None:
    """Stop with a clear message when an option has a value outside its set."""
    if value not in choices:
        raise MethodConfigError(f"method '{method}': option {option}={value!r} is not one of {list(choices)}")


def step_generator(seed: int, step: int, salt: int, device) -> torch.Generator:
    """A torch generator seeded from (run seed, global iteration, salt), for randomness inside a loss
    (EQL's Bernoulli masks): deterministic and resumable without global RNG state (docs/training.md)."""
    state = np.random.SeedSequence([int(seed), int(step), int(salt)]).generate_state(2, dtype=np.uint32)
    g = torch.Generator(device=device)
    g.manual_seed(int(state[0]) << 32 | int(state[1]))
    return g


# ====================================================================== switches and heads
SWITCH_MODES = ("fraction", "runner_epoch")


def resolve_switch(ctx: MethodContext, mode: str, fraction: float, epoch: int, method: str = "") -> int:
    """Stage-2 start t_s: ⌊φ·T_tot⌋ (``fraction``) or e_s·I (``runner_epoch``), docs/methods.md."""
    if mode == "fraction":
        return fraction_switch(ctx, fraction)
    if mode == "runner_epoch":
        return epoch_switch(ctx, epoch)
    raise MethodConfigError(f"method '{method}': switch must be one of {list(SWITCH_MODES)}, got '{mode}'")


class NormedLinear(torch.nn.Module):
    """Cosine classifier (LDAM/KPS, docs/methods.md): cos θ_c = ⟨x/‖x‖, w_c/‖w_c‖⟩, no bias.

    Rows are initialised U(−1, 1) and rescaled to unit norm. Any scale s belongs to the loss."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__()
        w = torch.empty(num_classes, in_dim).uniform_(-1.0, 1.0)
        self.weight = torch.nn.Parameter(F.normalize(w, dim=1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return F.normalize(feats, dim=1) @ F.normalize(self.weight, dim=1).t()


def classifier_linear(model: torch.nn.Module) -> torch.nn.Linear:
    """The final ``nn.Linear`` of the model's head (``LinearHead.fc``), for τ-norm, cRT and WB."""
    head = getattr(model, "head", None)
    if head is None:
        raise MethodConfigError("the model has no `.head`; build it with benchmark.models.build_model")
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise MethodConfigError(f"the model head {type(head).__name__} has no nn.Linear to adjust")
    return linears[-1]


def load_stage1(model: torch.nn.Module, state, method: str, stage1: str) -> None:
    """Load the stage-1 model's final weights; a missing state is a wiring error of the run."""
    if state is None:
        raise MethodConfigError(f"method '{method}' starts from the final model of '{stage1}', but no "
                                f"stage-1 state was given (ctx.stage1_state is None); run '{stage1}' "
                                "first with the same dataset, backbone, stream and seed")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise MethodConfigError(f"method '{method}': the stage-1 '{stage1}' weights do not fit this model "
                                f"(same backbone and head required): {e}") from None


def freeze_backbone_eval(model: torch.nn.Module) -> None:
    """Freeze every backbone parameter and keep the backbone in eval mode (BN statistics fixed)
    even when the engine calls ``model.train()`` (docs/methods.md, docs/training.md)."""
    import types

    backbone = model.backbone
    for p in backbone.parameters():
        p.requires_grad_(False)

    def _train(self, mode: bool = True):
        return torch.nn.Module.train(self, False)

    backbone.train = types.MethodType(_train, backbone)
    backbone.eval()


#: option names and defaults every deferred baseline shares (docs/methods.md "official_code": switch at 19·I)
DEFERRED_DEFAULTS = {"schedule": "always", "switch": "runner_epoch", "switch_epoch": 19, "switch_fraction": 5 / 6}


def stage2_start(ctx: MethodContext, options, method: str) -> int:
    """t_s of a baseline's second stage: 0 for ``schedule = always``; otherwise from ``switch``
    (``fraction`` → ⌊switch_fraction·T_tot⌋, ``runner_epoch`` → switch_epoch·I)."""
    check_choice(method, "schedule", options["schedule"], ("always", "deferred"))
    if options["schedule"] == "always":
        return 0
    return resolve_switch(ctx, options["switch"], float(options["switch_fraction"]),
                          int(options["switch_epoch"]), method)


def stage2_schedule(num_passes: int, repeat: int) -> tuple:
    """(runner_epochs, repeat) for a short second stage of ``num_passes`` passes over the sampler list."""
    if repeat > 0 and num_passes % repeat == 0:
        return num_passes // repeat, repeat
    return num_passes, 1


def lr_scale_for(target_lr0: float, ctx: MethodContext, recipe_lr0=None) -> float:
    """Param-group ``lr_scale`` that turns the engine's lr₀ into ``target_lr0``.

    The engine sets each group's lr to cosine(lr₀)·lr_scale every iteration, with the recipe's
    linear-scaling lr₀ = 0.1·B/128 (docs/training.md) unless ``recipe_lr0`` says otherwise."""
    base = float(recipe_lr0) if recipe_lr0 is not None else 0.1 * ctx.batch_size / 128.0
    if base <= 0:
        raise MethodConfigError(f"recipe_lr0 must be positive, got {base}")
    return float(target_lr0) / base


# ====================================================================== validation tuning (docs/methods.md)
def balanced_accuracy_of(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean per-class recall of (N, C) probabilities over the classes present in ``labels``."""
    pred = probs.argmax(dim=1)
    accs = [(pred[labels == c] == c).float().mean() for c in torch.unique(labels)]
    return float(torch.stack(accs).mean())


def grid_search(grid, score) -> Tuple[float, Dict[float, float]]:
    """(best value, {value: score}) maximising ``score(value)``; ties keep the earlier grid value."""
    scores = {float(v): float(score(v)) for v in grid}
    best = max(scores, key=lambda v: (scores[v], -list(scores).index(v)))
    return best, scores
