"""Every weight, margin, loss and label rule against the worked numbers of docs/methods.md (and docs/methods.md),
plus a direct re-computation from the formula on random inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from methods import _formulas as fm
from methods._base import MethodContext, Targets, mixed_cross_entropy

NTU60 = fm.formula_counts(60, 600, 100)
X_SUB = fm.formula_counts(120, 600, 100)
X_SET = fm.formula_counts(120, 400, 100)
UCLA = fm.formula_counts(10, 100, 10)
TOY = np.array([100, 20, 5])
Z = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
COS = torch.tensor([0.5, 0.2, 0.1], dtype=torch.float64)


def sig4(x) -> np.ndarray:
    """Round to 4 significant digits, as the spec's tables are."""
    return np.array([float(f"{v:.4g}") for v in np.atleast_1d(np.asarray(x, dtype=np.float64))])


def close4(actual, expected):
    """Equal to the spec's 4-significant-digit value (allowing one unit in the last digit for ties)."""
    actual = np.atleast_1d(np.asarray(actual, dtype=np.float64))
    expected = np.atleast_1d(np.asarray(expected, dtype=np.float64))
    ulp = np.array([10 ** (math.floor(math.log10(abs(e))) - 3) if e else 1e-12 for e in expected])
    assert np.all(np.abs(actual - expected) <= 0.5 * ulp + 1e-12), (actual, expected)


def ce(z, y):
    return float(fm.ce_per_sample(z[None], torch.tensor([y]))[0])


# ============================================================================ docs/methods.md counts
def test_counts_profiles():
    assert NTU60.tolist()[:5] == [600, 554, 513, 474, 439] and NTU60.sum() == 7892
    assert NTU60.tolist()[-6:] == [9, 8, 8, 7, 7, 6] or NTU60.tolist()[-6:] == [8, 8, 7, 7, 6, 6]
    assert X_SUB.tolist()[:5] == [600, 577, 555, 534, 513] and X_SUB[59] == 61 and X_SUB[60] == 58
    assert X_SUB.sum() == 15600
    assert X_SET.tolist()[:5] == [400, 384, 370, 356, 342] and X_SET[59] == 40 and X_SET[60] == 39
    assert X_SET.sum() == 10378
    assert UCLA.tolist() == [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]


# ============================================================================ docs/methods.md action-aware
AA_NTU60 = """0.04095 0.05419 0.06737 0.08098 0.09405 0.1071 0.1201 0.1325 0.1447 0.1566 0.1689 0.1804 0.1922 0.2045
0.2165 0.2289 0.2419 0.2555 0.2697 0.2844 0.3014 0.3174 0.3357 0.3546 0.3736 0.3956 0.4213 0.4472 0.4722 0.5012
0.5351 0.5668 0.6036 0.6469 0.6847 0.7283 0.7791 0.8392 0.9112 0.9678 1.033 1.109 1.199 1.307 1.369 1.516 1.604
1.703 1.816 1.946 2.098 2.278 2.494 2.757 3.087 3.087 3.511 3.511 4.076 4.076"""


def test_action_aware_full_ntu60_vector():
    w = fm.action_aware_weights(NTU60)
    close4(w, [float(v) for v in AA_NTU60.split()])
    assert w.sum() == pytest.approx(60.0)
    close4(w[-1] / w[0], 99.52)


def test_action_aware_ntu60_table_beta_gamma():
    beta = fm.action_aware_beta(NTU60)
    gamma = fm.effective_number_gamma(beta, NTU60)
    rows = {0: (0.999900, 0.001717), 1: (0.999133, 0.002272), 15: (0.993000, 0.009599),
            29: (0.990933, 0.02101), 30: (0.990850, 0.02244), 40: (0.990333, 0.04331), 59: (0.990000, 0.1709)}
    for c, (b, g) in rows.items():
        assert beta[c] == pytest.approx(b, abs=5e-7)
        close4(gamma[c], g)
    close4(gamma.sum() / 60, 0.04193)
    np.testing.assert_allclose(fm.action_aware_weights(NTU60, normalize="none"), gamma)


@pytest.mark.parametrize("counts, expected", [
    (X_SUB, {0: 0.04116, 11: 0.1139, 23: 0.1862, 35: 0.2625, 47: 0.3616, 59: 0.5101, 60: 0.5305, 71: 0.748,
             83: 1.115, 95: 1.711, 107: 2.771, 119: 4.096}),
    (X_SET, {0: 0.04143, 11: 0.09564, 23: 0.1554, 35: 0.2261, 47: 0.3281, 59: 0.4827, 60: 0.4932, 71: 0.7268,
             83: 1.091, 95: 1.698, 107: 2.776, 119: 4.123}),
])
def test_action_aware_ntu120(counts, expected):
    sel = {c: n for c, n in zip(expected, [600, 391, 246, 154, 97, 61, 58, 38, 24, 15, 9, 6])}
    if counts is X_SUB:
        assert all(counts[c] == n for c, n in sel.items())
    w = fm.action_aware_weights(counts)
    for c, v in expected.items():
        close4(w[c], v)


def test_action_aware_ucla():
    beta = fm.action_aware_beta(UCLA)
    np.testing.assert_allclose(beta, [0.999900, 0.997370, 0.995390, 0.993960, 0.992750, 0.991870, 0.991210,
                                      0.990660, 0.990220, 0.990000], atol=5e-6)
    close4(fm.action_aware_weights(UCLA), [0.2217, 0.3161, 0.4262, 0.5478, 0.7114, 0.9067, 1.146, 1.478, 1.939, 2.307])


@pytest.mark.parametrize("counts, head, mid_c, mid, tail", [
    (NTU60, 1.008, 30, 0.9987, 0.9979), (X_SUB, 1.008, None, 0.9988, 0.9979), (X_SET, 1.008, None, 0.9988, 0.9979),
    (UCLA, 1.007, 5, 0.9985, 0.9966)])
def test_official_alternation_weights(counts, head, mid_c, mid, tail):
    w = fm.action_aware_weights(counts, flipped=True)
    close4([w[0], w[-1], w.max(), w.min()], [head, tail, head, tail])
    if mid_c is not None:
        close4(w[mid_c], mid)


def test_action_aware_equal_counts_edge_case():
    assert fm.action_aware_weights(np.array([7, 7, 7])).tolist() == [1.0, 1.0, 1.0]


def test_action_aware_random_direct():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 500, size=17)
    lo, hi = n.min(), n.max()
    w = fm.action_aware_weights(n, upsilon=0.98, lam=0.015)
    direct = []
    for c in range(17):
        b = 0.015 * (n[c] - lo) / (hi - lo) + 0.98
        direct.append((1 - b) / (1 - b ** n[c]))
    direct = np.array(direct)
    np.testing.assert_allclose(w, 17 * direct / direct.sum(), rtol=1e-12)


def test_f11_reduction_example():
    n = np.array([100, 20, 5])
    close4(fm.action_aware_beta(n), [0.9999, 0.9916, 0.99])
    w = fm.action_aware_weights(n)
    close4(w, [0.1124, 0.6054, 2.282])
    logits = torch.stack([Z, Z])
    t = Targets.plain(torch.tensor([0, 2]))
    l = fm.ce_per_sample(logits, t.y_a)
    close4(l.numpy(), [0.4644, 1.964])
    wt = torch.tensor(w)
    close4(float(fm.mixed_reduce(l, l, t, wt, "batch_mean")), 2.268)
    close4(float(fm.mixed_reduce(l, l, t, wt, "weighted_mean")), 1.894)


def test_mixed_reduce_matches_base_and_direct():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(9, 6, generator=g, dtype=torch.float64)
    t = Targets(torch.randint(0, 6, (9,), generator=g), torch.randint(0, 6, (9,), generator=g),
                torch.rand(9, generator=g))
    w = torch.rand(6, generator=g, dtype=torch.float64) + 0.1
    la, lb = fm.ce_per_sample(logits, t.y_a), fm.ce_per_sample(logits, t.y_b)
    for red in ("batch_mean", "weighted_mean"):
        assert float(fm.mixed_reduce(la, lb, t, w, red)) == pytest.approx(
            float(mixed_cross_entropy(logits, t, w, red)), rel=1e-6)
    lam = t.lam.double()
    bm = sum(lam[i] * w[t.y_a[i]] * la[i] + (1 - lam[i]) * w[t.y_b[i]] * lb[i] for i in range(9)) / 9
    assert float(fm.mixed_reduce(la, lb, t, w, "batch_mean")) == pytest.approx(float(bm), rel=1e-12)


# ============================================================================ docs/methods.md other weights
def test_cb_weights_ntu60():
    for beta, head, c29, c30, tail in [(0.9, 0.8605, None, 0.8627, 1.837), (0.99, 0.2301, None, 0.5264, 3.923),
                                       (0.999, 0.05785, 0.4341, 0.4710, 4.363), (0.9999, 0.04536, 0.4274, 0.4647, 4.404),
                                       (0.999999, 0.04410, None, 0.4640, 4.408)]:
        w = fm.class_balanced_weights(NTU60, beta)
        close4([w[0], w[30], w[-1]], [head, c30, tail])
        if c29 is not None:
            close4(w[29], c29)
        assert w.sum() == pytest.approx(60)
    for beta, ratio in [(0.9, 2.134), (0.99, 17.05), (0.999, 75.41), (0.9999, 97.09)]:
        w = fm.class_balanced_weights(NTU60, beta)
        close4(w[-1] / w[0], ratio)
    w = fm.class_balanced_weights(UCLA, 0.9999)
    close4([w[0], w[5], w[-1]], [0.2386, 0.8804, 2.375])


def test_cb_random_direct():
    n = np.random.default_rng(2).integers(1, 300, size=11)
    g = np.array([(1 - 0.99) / (1 - 0.99 ** k) for k in n])
    np.testing.assert_allclose(fm.class_balanced_weights(n, 0.99), 11 * g / g.sum(), rtol=1e-12)


def test_ldam_margins():
    m = fm.ldam_margins(NTU60, 0.5)
    close4([m[0], m[29], m[30], m[-1]], [0.1581, 0.2789, 0.2848, 0.5000])
    m3 = fm.ldam_margins(NTU60, 0.3)
    close4([m3[0], m3[-1]], [0.09487, 0.3000])
    u = fm.ldam_margins(UCLA, 0.5)
    close4([u[0], u[4], u[-1]], [0.2812, 0.3656, 0.5])
    xs = fm.ldam_margins(X_SUB, 0.5)
    close4([xs[0], xs[59], xs[-1]], [0.1581, 0.2800, 0.5])
    n = np.random.default_rng(3).integers(1, 900, size=8)
    np.testing.assert_allclose(fm.ldam_margins(n, 0.4), [0.4 * (n.min() / k) ** 0.25 for k in n])


def test_kps_scales_margins():
    s = fm.kps_scales(NTU60)
    close4([s[0], s[29], s[-1]], [2.177, 1.597, 1.000])
    m = fm.kps_margins(NTU60, 0.2)
    close4([m[0], m[29], m[-1]], [0.09186, 0.1447, 0.2000])
    m5 = fm.kps_margins(NTU60, 0.5)
    close4([m5[0], m5[29], m5[-1]], [0.2297, 0.3618, 0.5000])
    S = fm.kps_ga_scales(NTU60, 15.0)
    close4([S[0], S[29], S[-1]], [15.00, 23.63, 32.66])
    su = fm.kps_scales(UCLA)
    close4([su[0], su[-1]], [1.589, 1.0])
    # closed form vs mirror form differ by at most 0.0024 on NTU60 (docs/methods.md)
    n = NTU60.astype(float)
    closed = 0.2 * (1 + np.log(n.max() / n) / np.log(50)) / (1 + np.log(n.max() / n.min()) / np.log(50))
    assert np.abs(closed - m).max() <= 0.0024 + 5e-5


def test_kps_mirror_uses_frequency_rank():
    # classes out of frequency order: the mirror is by rank, not by index
    n = np.array([5, 100, 20])
    s = fm.kps_scales(n)
    m = fm.kps_margins(n, 0.2)
    # ranks: class1 (100) r=0, class2 (20) r=1, class0 (5) r=2; rarest gets s of the head
    assert m[0] == pytest.approx(0.2 * s[1] / s.max())
    assert m[1] == pytest.approx(0.2 * s[0] / s.max())
    assert m[2] == pytest.approx(0.2 * s[2] / s.max())


def test_offsets_and_inverse_frequency():
    off = np.log(NTU60)
    close4([off[0], off[29], off[-1]], [6.397, 4.127, 1.792])
    lp = fm.log_prior(NTU60)
    close4([lp[0], lp[29], lp[-1]], [-2.577, -4.846, -7.182])
    xs = np.log(X_SET)
    close4([xs[0], xs[-1]], [5.991, 1.386])
    w = fm.inverse_frequency_weights(NTU60)
    close4([w[0], w[29], w[-1]], [0.04408, 0.4266, 4.408])
    nn_ = fm.inverse_frequency_weights(NTU60, "N_over_n")
    close4([nn_[0], nn_[-1]], [13.15, 1315])


def test_eql_tail_sets():
    for counts, k, first in [(NTU60, 25, 35), (X_SUB, 67, 53), (X_SET, 67, 53)]:
        mask = fm.eql_tail_mask(counts, 0.005)
        assert mask.sum() == k and np.flatnonzero(mask).min() == first
    assert fm.eql_tail_mask(UCLA, 0.005).sum() == 0
    assert np.flatnonzero(fm.eql_tail_mask(UCLA, 0.05)).tolist() == [7, 8, 9]
    for counts, k, first in [(NTU60, 19, 41), (X_SUB, 39, 81), (X_SET, 39, 81), (UCLA, 3, 7)]:
        mask = fm.eql_official_tail_mask(counts)
        assert mask.sum() == k and np.flatnonzero(mask).min() == first


def test_gumbel_bias_init():
    for c, b, eta in [(60, -1.410, 0.01667), (120, -1.566, 0.008333), (10, -0.834, 0.1)]:
        assert fm.gumbel_bias_init(c) == pytest.approx(b, abs=5e-4)
        close4(float(fm.gumbel_eta(torch.tensor(fm.gumbel_bias_init(c)))), eta)


# ============================================================================ docs/methods.md toy losses
def test_toy_losses():
    n = TOY
    y0, y2 = torch.tensor([0]), torch.tensor([2])
    z = Z[None]
    close4([ce(Z, 0), ce(Z, 2)], [0.4644, 1.964])
    p = F.softmax(Z, 0)
    close4([p[0], p[2]], [0.6285, 0.1402])
    close4([float(fm.focal_per_sample(z, y0)), float(fm.focal_per_sample(z, y2))], [0.06408, 1.452])
    bs = Z + torch.log(torch.tensor(n, dtype=torch.float64))
    close4([ce(bs, 0), ce(bs, 2)], [0.08133, 4.577])
    la = Z + torch.tensor(fm.log_prior(n))
    close4([ce(la, 0), ce(la, 2)], [0.08133, 4.577])
    delta = fm.ldam_margins(n, 0.5)
    close4(delta, [0.2364, 0.3536, 0.5])
    dt = torch.tensor(delta)
    ldam = [float(fm.ce_per_sample(30 * fm.margin_logits(COS[None], y, dt), y)) for y in (y0, y2)]
    close4(ldam, [0.1449, 27.00])
    close4(fm.kps_scales(n), [1.766, 1.354, 1])
    close4(fm.kps_margins(n, 0.2), [0.1133, 0.1534, 0.2])
    close4(fm.kps_ga_scales(n, 15.0)[[0, 2]], [15, 26.49])
    eta = fm.gumbel_eta(Z)
    close4(eta.numpy(), [0.8734, 0.6922, 0.5452])
    close4([float(fm.gumbel_bce_per_sample(z, y)) for y in (y0, y2)], [2.102, 3.852])
    close4([ce(eta, 0), ce(eta, 2)], [0.9378, 1.266])
    mix = fm.mixed_reduce(fm.ce_per_sample(z, y0), fm.ce_per_sample(z, y2), Targets(y0, y2, torch.tensor([0.3])))
    close4(float(mix), 1.514)
    close4(fm.class_balanced_weights(n, 0.999), [0.1206, 0.5793, 2.300])
    close4(fm.class_balanced_weights(n, 0.9999), [0.1159, 0.5772, 2.307])


def test_kps_toy_via_method_loss():
    from methods.kps import KPS
    ctx = MethodContext(num_classes=3, class_counts=TOY, layout=None, iters_per_epoch=10, runner_epochs=10,
                        repeat=1, batch_size=1, seed=0)
    m = KPS(ctx)
    y = lambda c: Targets.plain(torch.tensor([c]))
    close4([float(m.loss(COS[None], y(0), 0)), float(m.loss(COS[None], y(2), 0))], [6.068e-4, 14.74])
    assert m.t_s == 60
    close4([float(m.loss(COS[None], y(0), 60)), float(m.loss(COS[None], y(2), 60))], [6.068e-4, 26.03])


def test_focal_and_gumbel_random_direct():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(7, 5, generator=g, dtype=torch.float64) * 4
    y = torch.randint(0, 5, (7,), generator=g)
    p = F.softmax(z, 1)[torch.arange(7), y]
    torch.testing.assert_close(fm.focal_per_sample(z, y, 1.5), -(1 - p) ** 1.5 * torch.log(p))
    eta = torch.exp(-torch.exp(-z.clamp(-4, 10)))
    oh = F.one_hot(y, 5).double()
    direct = -(oh * torch.log(eta) + (1 - oh) * torch.log(1 - eta)).sum(1)
    torch.testing.assert_close(fm.gumbel_bce_per_sample(z, y), direct)
    torch.testing.assert_close(fm.gumbel_bce_per_sample(z, y, per_element=True), direct / 5)


def test_focal_gradient_flows_through_modulator():
    z = Z.clone()[None].requires_grad_(True)
    fm.focal_per_sample(z, torch.tensor([2])).sum().backward()
    zz = Z.clone()[None].requires_grad_(True)
    lp = F.log_softmax(zz, 1)[0, 2]
    (-(1 - lp.exp().detach()) ** 2 * lp).backward()   # the wrong, detached version
    assert not torch.allclose(z.grad, zz.grad)


# ============================================================================ docs/methods.md label rules
@pytest.mark.parametrize("i, j, paper, official", [
    (0, 59, 0, 0), (59, 0, 1, 1), (10, 20, 0.64, 0.64), (0, 14, 0.64, 0.64), (0, 15, 0, 0), (54, 41, 1, 0.64),
    (41, 54, 0.64, 0.64)])
def test_rpm_rule_ntu60(i, j, paper, official):
    na, nb = NTU60[i], NTU60[j]
    assert float(fm.rpm_label_lambda(na, nb, 3, 0.64, "inclusive")) == pytest.approx(paper)
    assert float(fm.rpm_label_lambda(na, nb, 3, 0.64, "strict")) == pytest.approx(official)


@pytest.mark.parametrize("i, j, paper, official", [(2, 4, 0.55, 0.64), (0, 9, 0, 0), (4, 0, 0.55, 0.64), (5, 0, 1, 1)])
def test_rpm_rule_ucla(i, j, paper, official):
    assert float(fm.rpm_label_lambda(UCLA[i], UCLA[j], 3, 0.55, "inclusive")) == pytest.approx(paper)
    assert float(fm.rpm_label_lambda(UCLA[i], UCLA[j], 3, 0.64, "strict")) == pytest.approx(official)


def test_rpm_rule_random_direct_and_tensor():
    rng = np.random.default_rng(5)
    na, nb = rng.integers(1, 60, 400), rng.integers(1, 60, 400)
    for boundary in ("inclusive", "strict"):
        got = fm.rpm_label_lambda(na, nb, 3, 0.6, boundary)
        got_t = fm.rpm_label_lambda(torch.tensor(na), torch.tensor(nb), 3, 0.6, boundary).numpy()
        for a, b, g, gt in zip(na, nb, got, got_t):
            if a > 3 * b:
                want = 0.0
            elif (3 * a <= b) if boundary == "inclusive" else (b > 3 * a):
                want = 1.0
            else:
                want = 0.6
            assert g == want and gt == want
    assert np.all(fm.rpm_label_lambda(na, nb, 3, 0.6, rebalance=False) == 0.6)


@pytest.mark.parametrize("ni, nj, lx, ly", [
    (600, 6, 0.3, 0), (600, 6, 0.7, 0.7), (600, 6, 0.5, 0.5), (6, 600, 0.7, 1), (6, 600, 0.3, 0.3),
    (274, 125, 0.3, 0.3), (24, 8, 0.2, 0), (8, 24, 0.9, 1)])
def test_remix_rule(ni, nj, lx, ly):
    assert float(fm.remix_label_lambda(ni, nj, lx)) == pytest.approx(ly)
    assert float(fm.remix_label_lambda(torch.tensor([ni]), torch.tensor([nj]), lx)[0]) == pytest.approx(ly)


def test_remix_rule_random_direct():
    rng = np.random.default_rng(6)
    ni, nj, lx = rng.integers(1, 50, 300), rng.integers(1, 50, 300), rng.random(300)
    got = fm.remix_label_lambda(ni, nj, lx, 2.5, 0.4)
    for a, b, l, g in zip(ni, nj, lx, got):
        want = 0.0 if (a / b >= 2.5 and l < 0.4) else (1.0 if (a / b <= 1 / 2.5 and 1 - l < 0.4) else l)
        assert g == pytest.approx(want)


# ============================================================================ docs/methods.md schedules, docs/methods.md sampler
def _ctx(counts, per_epoch, batch, runner_epochs=24, repeat=5):
    return MethodContext(num_classes=len(counts), class_counts=counts, layout=None,
                         iters_per_epoch=-(-per_epoch // batch), runner_epochs=runner_epochs, repeat=repeat,
                         batch_size=batch, seed=0)


@pytest.mark.parametrize("counts, total, share, i16, t16, off, pap, i128, t128, pap128", [
    (NTU60, 98106, 0.6115, 6132, 147168, 116508, 122640, 767, 18408, 15340),
    (X_SUB, 195257, 0.6145, 12204, 292896, 231876, 244080, 1526, 36624, 30520),
    (X_SET, 130103, 0.6149, 8132, 195168, 154508, 162640, 1017, 24408, 20340),
    (UCLA, 3720, 0.5376, 233, 5592, 4427, 4660, 30, 720, 600)])
def test_reverse_sampler_totals_and_switches(counts, total, share, i16, t16, off, pap, i128, t128, pap128):
    from methods._samplers import reverse_epoch_indices, reverse_epoch_size
    labels = np.repeat(np.arange(len(counts)), counts)
    assert reverse_epoch_size(labels, counts, 5) == total
    idx = reverse_epoch_indices(labels, counts, 5, np.random.default_rng(0))
    assert len(idx) == total
    tail = fm.tail_third(counts)
    assert round(float(tail[labels[idx]].mean()), 4) == share
    c16 = _ctx(counts, total, 16)
    assert (c16.iters_per_epoch, c16.total_iters) == (i16, t16)
    assert fm.epoch_switch(c16, 19) == off and fm.detached_switch(c16, 20) == pap
    c128 = _ctx(counts, total, 128)
    assert (c128.iters_per_epoch, c128.total_iters, fm.detached_switch(c128, 20)) == (i128, t128, pap128)


def test_reverse_sampler_float64_truncation_matters():
    # exact rational arithmetic would give 98 110 on NTU60 (docs/methods.md)
    from fractions import Fraction
    n = NTU60
    tail = fm.tail_third(n)
    exact = 0
    for c in range(60):
        mu = Fraction(5 * 600, int(n[c])) if tail[c] else Fraction(5)
        exact += int(mu) * n[c] + int((mu - int(mu)) * n[c])
    assert exact == 98110


def test_reverse_sampler_structure_random():
    from methods._samplers import reverse_epoch_indices, reverse_multipliers
    rng = np.random.default_rng(7)
    counts = np.array([30, 20, 12, 9, 5, 3])
    labels = rng.permutation(np.repeat(np.arange(6), counts))
    idx = reverse_epoch_indices(labels, counts, 2, np.random.default_rng(1))
    mu = reverse_multipliers(counts, 2)
    assert fm.tail_third(counts).tolist() == [False, False, False, False, True, True]
    per_class = np.bincount(labels[idx], minlength=6)
    want = np.floor(mu) * counts + np.floor((mu - np.floor(mu)) * counts)
    assert per_class.tolist() == want.astype(int).tolist()
    # every index of a non-tail class appears exactly R times
    uniq, times = np.unique(idx[labels[idx] == 0], return_counts=True)
    assert set(times.tolist()) == {2} and uniq.size == counts[0]
    again = reverse_epoch_indices(labels, counts, 2, np.random.default_rng(1))
    assert np.array_equal(idx, again)


def test_tail_rules_rank_vs_index():
    counts = np.array([5, 50, 40, 30, 20, 10])      # class 0 is the rarest, not the head
    assert np.flatnonzero(fm.tail_third(counts, "rank")).tolist() == [0, 5]
    assert np.flatnonzero(fm.tail_third(counts, "index")).tolist() == [4, 5]


def test_plain_and_ltcmp_iteration_counts():
    for n, i16, tot in [(7892, 2467, 39472), (15600, 4875, 78000), (10378, 3244, 51904), (403, 126, 2016)]:
        c = _ctx(np.ones(3, int), 5 * n, 16, runner_epochs=16)
        assert (c.iters_per_epoch, c.total_iters) == (i16, tot)
    c = _ctx(NTU60, 5 * 7892, 128)
    assert (c.iters_per_epoch, c.total_iters) == (309, 7416)
    assert fm.fraction_switch(c, 0.8) == 5932 and fm.fraction_switch(c, 0.6) == 4449


def test_formula_counts_f7():
    from benchmark.graphs import NTU25, NW_UCLA20
    actual_if10 = fm.formula_counts(60, 600, 10)
    ctx = MethodContext(num_classes=60, class_counts=actual_if10, layout=NTU25, iters_per_epoch=1, runner_epochs=1,
                        repeat=1, batch_size=1, seed=0, lt_profile={"n_max": 600, "ratio": 10})
    assert fm.resolve_counts(ctx, "actual")[59] == 60
    assert fm.resolve_counts(ctx, "formula")[59] == 6          # IF fixed at 100 for NTU (F7)
    uctx = MethodContext(num_classes=10, class_counts=UCLA, layout=NW_UCLA20, iters_per_epoch=1, runner_epochs=1,
                         repeat=1, batch_size=1, seed=0, lt_profile={"n_max": 100, "ratio": 10})
    assert fm.resolve_counts(uctx, "formula").tolist() == UCLA.tolist()


def test_zero_count_is_a_clear_error():
    ctx = MethodContext(num_classes=3, class_counts=np.array([5, 0, 2]), layout=None, iters_per_epoch=1,
                        runner_epochs=1, repeat=1, batch_size=1, seed=0)
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no training samples"):
        fm.resolve_counts(ctx, "actual", method="cb")
    assert fm.resolve_counts(ctx, "actual", clamp_min=1).tolist() == [5, 1, 2]
