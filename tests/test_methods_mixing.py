"""RPM (docs/methods.md, F1–F6, docs/methods.md), Mixup and Remix batch transforms, and the class-aware / ROS samplers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.graphs import NTU25, NW_UCLA20
from methods import _mixing as mx
from methods._formulas import formula_counts, remix_label_lambda, rpm_label_lambda
from methods._samplers import class_aware_epoch_indices, ros_epoch_indices

NTU60 = formula_counts(60, 600, 100)


def joint_id_batch(batch: int, v: int) -> torch.Tensor:
    """x[b, m, t, v, c] = 1000·b + v: every entry names its sample and joint."""
    b = torch.arange(batch, dtype=torch.float64)[:, None, None, None, None]
    j = torch.arange(v, dtype=torch.float64)[None, None, None, :, None]
    return (1000 * b + j).expand(batch, 2, 3, v, 3).clone()


def test_concat_slot_mapping_ntu():
    x = joint_id_batch(2, 25)
    out = mx.partial_mix(x, torch.tensor([0]), torch.tensor([1]), NTU25.upper, NTU25.lower, "concat")[0, 0, 0, :, 0]
    want = [v for v in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 24)] + \
           [1000 + v for v in (0, 12, 13, 14, 15, 16, 17, 18, 19)]
    assert out.tolist() == want
    assert all(out[s] != s for s in range(25))     # no slot keeps its own content (docs/methods.md)


def test_concat_slot_mapping_ucla():
    x = joint_id_batch(2, 20)
    out = mx.partial_mix(x, torch.tensor([0]), torch.tensor([1]), NW_UCLA20.upper, NW_UCLA20.lower,
                         "concat")[0, 1, 2, :, 1]
    assert out.tolist() == list(range(1, 12)) + [1000] + [1000 + v for v in range(12, 20)]


def test_inplace_mapping():
    x = joint_id_batch(2, 25)
    out = mx.partial_mix(x, torch.tensor([1]), torch.tensor([0]), NTU25.upper, NTU25.lower, "inplace")[0, 0, 0, :, 0]
    assert out.tolist() == [(1000 if v in NTU25.upper else 0) + v for v in range(25)]


def test_num_mixed():
    assert [mx.num_mixed(b, 1 / 16) for b in (128, 16, 15, 40)] == [8, 1, 0, 2]


def _rpm(batch, cfg, seed=0, counts=NTU60, layout=NTU25):
    x = joint_id_batch(batch, layout.num_node)
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, len(counts), (batch,), generator=g)
    out, t = mx.rebalanced_partial_mixup(x, y, torch.tensor(counts, dtype=torch.float64), layout.upper,
                                         layout.lower, cfg, torch.Generator().manual_seed(seed + 1))
    return x, y, out, t


def _partner_of(out_row, layout):
    """Which sample provided the lower body of a mixed row."""
    return int(out_row[0, 0, layout.lower[0], 0]) // 1000


def test_rpm_paper_mode_algorithm():
    cfg = mx.RPMConfig(lambda_x=0.64)
    for seed in range(20):
        x, y, out, t = _rpm(128, cfg, seed)
        changed = [b for b in range(128) if not torch.equal(out[b], x[b])]
        assert len(changed) == 8                                     # m = ⌊128/16⌋
        for b in changed:
            j = _partner_of(out[b], NTU25)
            assert j != b
            up = list(NTU25.upper)
            assert torch.equal(out[b][:, :, up], x[b][:, :, up])      # U kept from i
            assert torch.equal(out[b][:, :, list(NTU25.lower)], x[j][:, :, list(NTU25.lower)])  # L from the unmixed j
            assert t.y_b[b] == y[j] and t.y_a[b] == y[b]
            want = float(rpm_label_lambda(NTU60[y[b]], NTU60[y[j]], 3, 0.64, "inclusive"))
            assert float(t.lam[b]) == pytest.approx(want)
        unmixed = [b for b in range(128) if b not in changed]
        assert torch.all(t.lam[unmixed] == 1) and torch.equal(t.y_b[unmixed], y[unmixed])


def test_rpm_short_batch_and_determinism():
    cfg = mx.RPMConfig()
    x, y, out, t = _rpm(15, cfg)
    assert torch.equal(out, x) and torch.all(t.lam == 1)
    a = _rpm(64, cfg, seed=3)
    b = _rpm(64, cfg, seed=3)
    assert torch.equal(a[2], b[2]) and torch.equal(a[3].lam, b[3].lam)


def test_rpm_batch_scalar_uses_last_pair():
    cfg = mx.RPMConfig(granularity="batch_scalar")
    for seed in range(10):
        x, y, out, t = _rpm(64, cfg, seed)
        mixed = [b for b in range(64) if not torch.equal(out[b], x[b])]
        last = max(mixed)
        j = _partner_of(out[last], NTU25)
        want = float(rpm_label_lambda(NTU60[y[last]], NTU60[y[j]], 3, 0.64))
        assert torch.all(t.lam == torch.tensor(want, dtype=torch.float32))


def test_sequential_pairs_skip_and_pool():
    class FixedRng:
        """choice returns the given targets; integers picks index 0 of the remaining pool."""
        def __init__(self, targets):
            self.targets = targets

        def choice(self, n, size, replace):
            return np.array(self.targets)

        def integers(self, lo, hi):
            return 0

    pairs = mx.sequential_pairs(8, 3, FixedRng([2, 3, 6]))
    # 2 is processed and removed; the shrinking list makes the loop skip 3 (stays unmixed); then 6
    assert [p[0] for p in pairs] == [2, 6]
    assert pairs[0] == (2, 0) and pairs[1] == (6, 0)
    pairs = mx.sequential_pairs(8, 2, FixedRng([0, 5]))
    assert pairs == [(0, 1), (5, 1)]            # 0 already processed is no longer a partner
    rng = np.random.default_rng(0)
    for _ in range(50):                          # m = 1: same law as paper mode, never self
        (i, j), = mx.sequential_pairs(16, 1, rng)
        assert i != j


def test_rpm_device_batch_unit():
    cfg = mx.RPMConfig(batch_unit="device", device_batch=16)
    x, y, out, t = _rpm(64, cfg, 5)
    mixed = [b for b in range(64) if not torch.equal(out[b], x[b])]
    assert len(mixed) == 4 and sorted(b // 16 for b in mixed) == [0, 1, 2, 3]
    for b in mixed:
        assert _partner_of(out[b], NTU25) // 16 == b // 16      # partners stay on their device


def test_rpm_config_errors():
    with pytest.raises(ValueError, match="rpm_placement"):
        mx.RPMConfig(placement="middle")
    with pytest.raises(ValueError, match="partition"):
        mx.rebalanced_partial_mixup(torch.zeros(16, 2, 3, 20, 3), torch.zeros(16, dtype=torch.long),
                                    torch.ones(60, dtype=torch.float64), NTU25.upper, NTU25.lower, mx.RPMConfig(),
                                    torch.Generator().manual_seed(0))


def test_mixup_and_remix():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 2, 4, 25, 3, generator=g)
    y = torch.randint(0, 60, (8,), generator=g)
    xm, perm, lam = mx.mixup(x, y, 1.0, torch.Generator().manual_seed(9))
    assert 0 <= lam <= 1
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[perm])
    xm2, t = mx.mixup_batch(x, y, 1.0, torch.Generator().manual_seed(9))
    torch.testing.assert_close(xm2, xm)
    assert torch.equal(t.y_b, y[perm]) and torch.allclose(t.lam, torch.full((8,), lam))
    counts = torch.tensor(NTU60, dtype=torch.float64)
    xr, tr = mx.remix_batch(x, y, counts, 1.0, 3.0, 0.5, torch.Generator().manual_seed(9))
    torch.testing.assert_close(xr, xm)
    want = remix_label_lambda(NTU60[y.numpy()], NTU60[y[perm].numpy()], lam)
    np.testing.assert_allclose(tr.lam.numpy(), want, rtol=1e-6)


def test_class_aware_sampler():
    labels = np.repeat(np.arange(5), [40, 20, 10, 5, 1])
    idx = class_aware_epoch_indices(labels, 5, 2, np.random.default_rng(0))
    assert len(idx) == 2 * len(labels)
    lab = labels[idx]
    runs = lab.reshape(-1, 4)
    assert np.all(runs == runs[:, :1])                        # 4 of one class in a row
    share = np.bincount(lab, minlength=5) / len(lab)
    assert np.all(np.abs(share - 0.2) < 0.03)
    assert np.array_equal(idx, class_aware_epoch_indices(labels, 5, 2, np.random.default_rng(0)))


def test_ros_sampler():
    labels = np.repeat(np.arange(4), [300, 100, 30, 10])
    idx = ros_epoch_indices(labels, 4, 5, np.random.default_rng(0))
    assert len(idx) == 5 * 440
    share = np.bincount(labels[idx], minlength=4) / len(idx)
    assert np.all(np.abs(share - 0.25) < 0.04)
    rep = ros_epoch_indices(labels, 4, 1, np.random.default_rng(0), "replicate")
    assert np.bincount(labels[rep], minlength=4).tolist() == [300, 300, 300, 300]
