"""Stage switches and method-level losses of the baselines against direct computations."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import methods
from benchmark.graphs import NTU25, NW_UCLA20
from methods import _formulas as fm
from methods._base import MethodContext, Targets

NTU60 = fm.formula_counts(60, 600, 100)


def ctx(counts=NTU60, fidelity="paper", layout=NTU25, I=10, E=24, R=5, **kw):
    return MethodContext(num_classes=len(counts), class_counts=np.asarray(counts), layout=layout, iters_per_epoch=I,
                         runner_epochs=E, repeat=R, batch_size=16, seed=7, fidelity=fidelity,
                         lt_profile={"n_max": int(max(counts)), "ratio": 100}, **kw)


def batch(c=60, b=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, generator=g, dtype=torch.float64) * 3, torch.randint(0, c, (b,), generator=g)


def test_eql_masks_only_tail_negatives_and_is_deterministic():
    m = methods.get_method("eql")(ctx())
    z, y = batch()
    t = Targets.plain(y)
    masked = m.masked_logits(z, t, 5)
    dropped = torch.isinf(masked)
    assert not dropped[torch.arange(16), y].any()
    assert not dropped[:, ~torch.as_tensor(m.droppable)].any()
    frac = dropped[:, torch.as_tensor(m.droppable)].double().mean()
    assert 0.75 < float(frac) < 0.98                        # γ = 0.9 on non-target tail logits
    assert torch.equal(masked, m.masked_logits(z, t, 5)) and not torch.equal(masked, m.masked_logits(z, t, 6))
    loss = m.loss(z, t, 5)
    torch.testing.assert_close(loss, F.cross_entropy(masked, y))
    assert methods.get_method("eql")(ctx(fm.formula_counts(10, 100, 10), layout=NW_UCLA20)).lam == 0.05


def test_eql_official_inverted():
    m = methods.get_method("eql")(ctx(fidelity="official_code"))
    assert m.t_s == 190 and m.droppable.sum() == 41            # head+medium: everything but the 19 tail classes
    z, y = batch()
    torch.testing.assert_close(m.loss(z, Targets.plain(y), 189), F.cross_entropy(z, y))
    masked = m.masked_logits(z, Targets.plain(y), 190)
    kept_head = ~torch.isinf(masked[:, :41])
    assert float(kept_head.double().mean()) < 0.05


def test_ldam_drw_switch_and_loss():
    m = methods.get_method("ldam_drw")(ctx())
    assert m.t_s == 192                                       # ⌊0.8·240⌋
    cos = torch.rand(16, 60, dtype=torch.float64) * 2 - 1
    _, y = batch()
    delta = torch.tensor(fm.ldam_margins(NTU60, 0.5))
    zz = 30 * (cos - F.one_hot(y, 60) * delta[y][:, None])
    torch.testing.assert_close(m.loss(cos, Targets.plain(y), 191), F.cross_entropy(zz, y))
    w = torch.tensor(fm.class_balanced_weights(NTU60, 0.9999))
    torch.testing.assert_close(m.loss(cos, Targets.plain(y), 192), F.cross_entropy(zz, y, weight=w))
    off = methods.get_method("ldam_drw")(ctx(fidelity="official_code"))
    assert off.t_s == 190 and off.options["head"] == "linear" and off.options["drw_beta"] == 0.999999


def test_cb_variants():
    z, y = batch()
    t = Targets.plain(y)
    w = torch.tensor(fm.class_balanced_weights(NTU60, 0.9999))
    cb = methods.get_method("cb")
    torch.testing.assert_close(cb(ctx()).loss(z, t, 0), (w[y] * F.cross_entropy(z, y, reduction="none")).mean())
    bce = F.binary_cross_entropy_with_logits(z, F.one_hot(y, 60).double(), reduction="none")
    torch.testing.assert_close(cb(ctx(), cb_loss="sigmoid").loss(z, t, 0), (w[y] * bce.sum(1)).mean())
    p = torch.sigmoid(z)
    pt = torch.where(F.one_hot(y, 60).bool(), p, 1 - p)
    torch.testing.assert_close(cb(ctx(), cb_loss="focal").loss(z, t, 0), (w[y] * ((1 - pt) * bce).sum(1)).mean())
    off = cb(ctx(fidelity="official_code"))
    torch.testing.assert_close(off.loss(z, t, 189), F.cross_entropy(z, y))
    w3 = torch.tensor(fm.class_balanced_weights(NTU60, 0.999))
    torch.testing.assert_close(off.loss(z, t, 190), F.cross_entropy(z, y, weight=w3))


def test_focal_official_deferred_and_gumbel_official():
    z, y = batch()
    t = Targets.plain(y)
    f = methods.get_method("focal")(ctx(fidelity="official_code"))
    torch.testing.assert_close(f.loss(z, t, 189), F.cross_entropy(z, y))
    torch.testing.assert_close(f.loss(z, t, 190), fm.focal_per_sample(z, y).mean())
    g = methods.get_method("gumbel_ce")(ctx(fidelity="official_code"))
    torch.testing.assert_close(g.loss(z, t, 199), F.cross_entropy(z, y))
    torch.testing.assert_close(g.loss(z, t, 200), F.cross_entropy(fm.gumbel_eta(z), y).clamp(0, 20))
    gp = methods.get_method("gumbel_ce")(ctx())
    torch.testing.assert_close(gp.loss(z, t, 0), fm.gumbel_bce_per_sample(z, y).mean().clamp(0, 20))


def test_balanced_softmax_and_la_are_equal_at_tau_1():
    z, y = batch()
    t = Targets.plain(y)
    bs = methods.get_method("balanced_softmax")(ctx()).loss(z, t, 0)
    la = methods.get_method("la")(ctx()).loss(z, t, 0)
    torch.testing.assert_close(bs, la)
    torch.testing.assert_close(bs, F.cross_entropy(z + torch.log(torch.tensor(NTU60, dtype=torch.float64)), y))


def test_brl_official_transform_uses_concat_and_formula_counts():
    # IF 10 run: actual tail counts 60, official F7 counts 6
    actual = fm.formula_counts(60, 600, 10)
    c = MethodContext(num_classes=60, class_counts=actual, layout=NTU25, iters_per_epoch=10, runner_epochs=24,
                      repeat=5, batch_size=16, seed=0, fidelity="official_code", lt_profile={"n_max": 600, "ratio": 10})
    m = methods.get_method("brl")(c)
    assert m.counts[59] == 6 and m.rpm_cfg.placement == "concat" and m.rpm_cfg.partner_pool == "sequential"
    x = torch.arange(16, dtype=torch.float32)[:, None, None, None, None] * 1000 + \
        torch.arange(25, dtype=torch.float32)[None, None, None, :, None]
    x = x.expand(16, 2, 3, 25, 3).contiguous()
    y = torch.arange(16)
    out, t = m.transform_batch(x, y, 0, torch.Generator().manual_seed(1))
    changed = [b for b in range(16) if not torch.equal(out[b], x[b])]
    assert len(changed) == 1
    row = out[changed[0], 0, 0, :, 0] % 1000
    assert row[:16].tolist() == list(NTU25.upper)
    assert torch.all(t.lam == t.lam[0])                       # batch-scalar λ (F2)
    paper = methods.get_method("brl")(MethodContext(**{**c.__dict__, "fidelity": "paper"}))
    assert paper.counts[59] == 60


def test_brl_detached_switch_scales_with_short_schedules():
    m = methods.get_method("brl")(ctx(E=2, I=30))              # 10 effective epochs, T_tot = 60
    assert m.switch_iter == 50                                 # ⌊60·5/6⌋, not "last 20 epochs" = 0
    m = methods.get_method("stae_detached_focal")(ctx(E=24, I=767))
    assert m.switch_iter == 15340
