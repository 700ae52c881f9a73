"""Every number of the paper meets a run of config/paper.yaml like for like, or has a stated reason
(benchmark/paper_map.py); and a tiny stand-in run of the paper grid renders Tables I, V, VI and VII.

The stand-in writes fake run folders (random probabilities, the real dataset and split names) for the
planned runs of some paper tables, builds the ensembles with the real ensemble code and renders the
report: no training, no Snakemake, a few seconds.
"""
from __future__ import annotations

import copy
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

import benchmark.workflow as bw
from benchmark import paper_map as pm

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def paper_cfg():
    return yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


@pytest.fixture(scope="module")
def rows():
    return pm.load_rows()


def _missing(cov):
    return [(c.row["table"], c.row["dataset"], c.row["benchmark"], c.row["backbone"], c.row["method"],
             c.row["streams"], c.row["group"], c.selection) for c in cov if c.status == "missing"]


def test_every_paper_number_is_compared_or_has_a_reason(paper_cfg, rows):
    cov = pm.coverage(rows, paper_cfg)
    assert len(cov) == sum(r["source"] == "paper" for r in rows)
    assert _missing(cov) == [], "paper numbers without a planned run or a reason"
    by = {(c.row["table"], c.row["dataset"], c.row["benchmark"], c.row["backbone"], c.row["method"],
           c.row["streams"], c.row["metric"]): c for c in cov}
    # the rows the issue found silently absent now meet planned runs
    assert by[("V", "kinetics", "default", "stgcn++", "brl", "4s", "top1")].runs
    for c in cov:
        if c.row["table"] in ("VI", "VII") and c.row["metric"] == "top1":
            assert c.status == "compared", (c.row["method"], c.row["benchmark"])
    # Table VII's M1 is the vanilla ST-GCN++ four-stream ensemble (the plain recipe)
    assert any("/plain/ens-4s" in r for r in by[("VII", "ntu60", "xsub", "stgcn++", "m1_baseline", "4s", "top1")].runs)
    # a test-selected number meets a best_test run of official_code mode
    c = by[("I", "ntu60", "xsub", "stgcn++", "brl", "6s", "top1")]
    assert c.test_selected and c.selection == "best_test" and all("/brl_official/" in r for r in c.runs)


def test_coverage_fails_when_a_comparison_is_not_planned(paper_cfg, rows):
    cfg = copy.deepcopy(paper_cfg)
    cfg["tables"]["V"]["methods"] = ["brl_b32"]                 # no official_code run on Kinetics
    cfg["tables"]["VI"]["methods"].remove("brl_trp_only")       # an ablation row left out
    missing = _missing(pm.coverage(rows, cfg))
    assert ("V", "kinetics", "default", "stgcn++", "brl", "4s", "all", "best_test") in missing
    assert ("VI", "ntu60", "xview", "stgcn++", "brl_trp_only", "j", "all", "last") in missing
    # a custom-weight ensemble is not the paper's fusion, whatever its name
    cfg = copy.deepcopy(paper_cfg)
    cfg["ensembles"]["4s"] = {"j": 1, "b": 1, "jm": 1, "bm": 1}
    assert ("V", "kinetics", "default", "stgcn++", "brl", "4s", "all", "best_test") in _missing(pm.coverage(rows, cfg))


def test_reasons_and_aliases():
    base = {"source": "paper", "table": "I", "dataset": "ntu60", "benchmark": "xsub", "setting": "long_tailed",
            "backbone": "stgcn++", "method": "brl", "streams": "j", "group": "all", "metric": "top1", "value": "1"}
    assert pm.intrinsic_reason(base) is None
    assert pm.intrinsic_reason(dict(base, metric="top1_delta")) == pm.REASON_DELTA
    assert pm.intrinsic_reason(dict(base, setting="standard")) == pm.REASON_STANDARD
    assert pm.intrinsic_reason(dict(base, method="unknown_row_3", backbone="unknown")) == pm.REASON_UNKNOWN_ROW
    assert pm.intrinsic_reason(dict(base, backbone="infogcn")) == "other backbone: infogcn (not implemented in this suite)"
    assert [pm.paper_method(m) for m in ("m1_baseline", "m2_stae", "m3_stae_daa", "m4_stae_daa_ms", "stae_ce",
                                         "stae_detached_action_aware", "focal")] == \
        ["ce", "brl_stae", "brl", "brl", "brl_stae", "brl", "focal"]


def test_test_selected_numbers_are_those_equal_to_the_official_readme(rows):
    sel = pm.selected_on_test_keys(rows)
    paper = [r for r in rows if r["source"] == "paper"]
    flagged = {(r["table"], r["benchmark"], r["method"], r["streams"]) for r in paper if pm.is_test_selected(r, sel)}
    # Table I's BRL joint and six-stream numbers, Table II's 69.7, Table V's 48.6, and the rows that are BRL
    assert {("I", "xsub", "brl", "j"), ("I", "xview", "brl", "6s"), ("II", "xsub", "brl", "6s"), ("V", "default", "brl", "4s"),
            ("VI", "xsub", "stae_detached_action_aware", "j"), ("VII", "xsub", "m4_stae_daa_ms", "6s")} <= flagged
    # CE and the ablations are not the official BRL code's figures
    assert not {f for f in flagged if pm.paper_method(f[2]) != "brl"}
    # a value that differs from the README is not labelled, even for BRL
    r = next(r for r in paper if r["table"] == "I" and r["method"] == "brl" and r["streams"] == "6s"
             and r["setting"] == "long_tailed")
    assert not pm.is_test_selected(dict(r, value=str(float(r["value"]) + 0.1)), sel)
    assert pm.required_selection(r, sel) == "best_test"


def test_default_ensemble_weights_per_dataset(paper_cfg):
    assert bw.ensemble_weights(paper_cfg, "4s", "kinetics") == {"j": 3, "b": 3, "jm": 1, "bm": 1}
    assert bw.ensemble_weights(paper_cfg, "4s", "ntu60") == {"j": 2, "b": 2, "jm": 1, "bm": 1}
    assert bw.ensemble_weights({"ensembles": {"4s": {"j": 1, "b": 1}}}, "4s", "kinetics") == {"j": 1, "b": 1}
    with pytest.raises(bw.WorkflowConfigError, match="no default weights"):
        bw.ensemble_weights({"ensembles": {"3s": "default"}}, "3s", "ntu60")


# ---------------------------------------------------------------------------------------------
# a tiny stand-in run of the paper grid

STAND_IN_TABLES = "I,V,VI,VII"
CLASSES = {"ntu60": 60, "kinetics": 400}


def _fake_run(d: Path, run: dict, c: int, rules, strength: float) -> None:
    """One run folder: metrics.json (with ``selections`` for ``rules``) and the probabilities files."""
    from benchmark.data.splits import lt_profile
    from benchmark.metrics import compute_metrics

    d.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(c), 2 if c <= 60 else 1)
    names = np.array([f"s{i:04d}" for i in range(len(labels))])
    counts = lt_profile(c, 100, 10)
    rng = np.random.default_rng(zlib.crc32(d.as_posix().encode()))
    rec = {"run": run, "meta": {"wall_time_s": 1.0}, "selections": {}}
    for k, rule in enumerate(["last"] + list(rules)):
        z = rng.normal(size=(len(labels), c))
        z[np.arange(len(labels)), labels] += strength + 0.2 * k
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        f = "test_probs.npz" if rule == "last" else f"test_probs_{rule}.npz"
        np.savez(d / f, probs=p.astype(np.float32), labels=labels, names=names)
        m = compute_metrics(p, labels, counts)
        if rule == "last":
            rec["metrics"] = m
        else:
            rec["selections"][rule] = {"epoch": 2, "probs_file": f, "metrics": m}
    (d / "metrics.json").write_text(json.dumps(rec))


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory, paper_cfg):
    from benchmark.data.splits import counts_table, lt_profile
    from benchmark.engine.selection import supported_rules
    from benchmark.ensemble import run_ensemble

    root = tmp_path_factory.mktemp("paper_stand_in")
    cfg = copy.deepcopy(paper_cfg)
    cfg.update(seeds=[0], select_tables=STAND_IN_TABLES)
    cfg["experiment"] = "paper"
    runs_root, splits_root = root / "runs", root / "splits"
    splits_root.mkdir()
    for s in bw.selected_splits(cfg).values():
        c = CLASSES[s.dataset]
        counts_table(np.repeat(np.arange(c), lt_profile(c, 100, 10)), c, [f"a{k}" for k in range(c)]) \
            .to_csv(splits_root / f"{s.split_id}_counts.csv", index=False)
    for r in bw.result_runs(cfg):
        rules = supported_rules(r.method.fidelity, bw.split_has_validation(cfg, r.split))[1:]
        run = {"dataset": r.split.dataset, "benchmark": r.split.benchmark, "split": r.split.split_id,
               "backbone": r.backbone, "method": r.method.id, "method_name": r.method.name, "stream": r.stream,
               "seed": r.seed, "fidelity": r.method.fidelity, "selection": "last"}
        _fake_run(runs_root / r.rel, run, CLASSES[r.split.dataset], rules, 2.0)
    targets = []
    for t in bw.ensemble_targets(cfg):
        rel = Path(t).relative_to(bw.runs_dir(cfg))
        split, backbone, mid, ens, seed = rel.parts[:5]
        weights = bw.ensemble_weights(cfg, ens[4:], bw.splits(cfg)[split].dataset)
        base = runs_root / split / backbone / mid
        out = runs_root / rel
        run_ensemble([base / s / seed / "test_probs.npz" for s in weights], list(weights), list(weights.values()),
                     splits_root / f"{split}_counts.csv", out)
        targets.append(out)
    config = root / "paper.yaml"          # the config file as the workflow hands it over (no --config)
    config.write_text(yaml.safe_dump(paper_cfg))
    out = root / "report"
    _render_paper_pages(runs_root, out, config)
    return {"cfg": cfg, "runs": runs_root, "out": out, "targets": targets}


def _render_paper_pages(runs_root: Path, out: Path, config: Path) -> None:
    """The paper-table pages and the provenance page, as render_report writes them (its other pages,
    figures and bootstraps are left out: they take minutes for a grid this size and are tested elsewhere)."""
    from benchmark.aggregate import collect_runs, runs_table, summary_table
    from benchmark.report.common import environment, load_paper_results, render_page
    from benchmark.report.overview import is_optimistic
    from benchmark.report.paper import PAGE_ORDER, paper_table
    from benchmark.report.provenance import provenance

    records = collect_runs(runs_root)
    summary = summary_table(runs_table(records))
    opt = summary["selection"].map(is_optimistic).astype(bool)
    paper = load_paper_results()
    env, nav = environment(), {"tables": [], "details": []}
    for tab in PAGE_ORDER:
        t = paper_table(tab, paper, summary[~opt].reset_index(drop=True), summary[opt].reset_index(drop=True))
        if t is not None:
            render_page(env, "paper_table.html", out, t["file"], title=t["title"], nav=nav, t=t)
    render_page(env, "provenance.html", out, "provenance.html", title="Provenance", nav=nav,
                p=provenance(records, config, paper))


def _rows_of(html: str):
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S) for tr in html.split("<tr")[1:]]


def test_stand_in_renders_tables_v_vi_vii(stand_in):
    out = stand_in["out"]
    for tab in ("V", "VI", "VII"):
        html = (out / f"table_{tab}.html").read_text()
        main = html.split("<h2>Last checkpoint and validation-selected runs</h2>")[-1]
        # every paper row of the table has a run of ours, except Table V's rows whose labels the paper lost
        not_run = [r[1] for r in _rows_of(main) if len(r) > 3 and r[3] == "not run"]
        assert all(m.startswith("unknown_row") for m in not_run), (tab, not_run)
    t5 = (out / "table_V.html").read_text()
    assert "48.6" in t5
    brl_4s = [r for r in _rows_of(t5) if len(r) > 6 and r[1] == "brl" and r[2] == "4s"]
    assert brl_4s and all(re.match(r"\d+\.\d ± n/a|\d+\.\d", r[5]) for r in brl_4s), brl_4s
    t7 = (out / "table_VII.html").read_text()
    for name in ("m1_baseline (= ce)", "m2_stae (= brl_stae)", "m3_stae_daa (= brl)", "m4_stae_daa_ms (= brl)"):
        assert name in t7
    t6 = (out / "table_VI.html").read_text()
    assert "stae_ce (= brl_stae)" in t6 and "stae_detached_action_aware (= brl)" in t6


def test_stand_in_six_stream_best_val_ensemble(stand_in):
    ens = [t for t in stand_in["targets"] if "/brl/ens-6s/" in t.as_posix() and "ntu60_xsub" in t.as_posix()]
    rec = json.loads(ens[0].read_text())
    assert set(rec["selections"]) == {"best_val"}                        # NTU60-LT has a validation split
    assert (ens[0].parent / "test_probs_best_val.npz").exists()
    off = json.loads(Path(str(ens[0]).replace("/brl/", "/brl_official/")).read_text())
    assert set(off["selections"]) == {"best_val", "best_test"}
    t1 = (stand_in["out"] / "table_I.html").read_text()
    first, main = t1.split("<h2>Last checkpoint and validation-selected runs</h2>")
    six = [r for r in _rows_of(main) if len(r) > 6 and r[1] == "brl" and r[2] == "6s"]
    assert any(r[3] == "brl (paper, best on validation)" and r[5] not in ("—", "") for r in six)
    # the paper's test-selected six-stream number is compared first with the best_test ensemble
    assert "brl_official (official_code, selected on test (optimistic))" in first
    prov = (stand_in["out"] / "provenance.html").read_text()
    assert "Coverage of the paper" in prov and "MISSING" not in prov
    m = re.search(r"<strong>(\d+)</strong> meet a run this config plans", prov)
    assert m and int(m.group(1)) > 0


def test_first_screen_labels_a_test_selected_paper_number():
    """The first screen's paper cell says when the paper's number is the official code's test-selected one."""
    from benchmark.report.common import load_paper_results
    from benchmark.report.paper import PaperIndex

    idx = PaperIndex(load_paper_results())
    hit = idx.lookup("ntu60", "xsub", "stgcnpp", "brl", "ens-6s")
    assert hit is not None and idx.is_selected_on_test("ntu60", "xsub", "stgcnpp", "brl", "ens-6s", hit[1])
    hit = idx.lookup("ntu60", "xsub", "stgcnpp", "ce", "j")
    assert hit is not None and not idx.is_selected_on_test("ntu60", "xsub", "stgcnpp", "ce", "j", hit[1])
    # Table VII's M3 is BRL's four-stream ensemble: the lookup finds BRL 4s in Table I first
    assert idx.lookup("ntu60", "xsub", "stgcnpp", "brl", "ens-4s") == (81.0, "I")
    assert ("ntu60", "xsub", "stgcn++", "brl", "4s", "all", "VII") in idx.selected_on_test


def test_a_one_dataset_config_leaves_the_other_datasets_outside(rows):
    """config/nw_ucla.yaml runs NW-UCLA-LT only: the NTU and Kinetics numbers are outside it, not
    missing; every NW-UCLA number a run could meet is either compared or reported missing (this
    config trains no CTR-GCN or MS-G3D), never dropped silently."""
    cfg = yaml.safe_load((REPO / "config" / "nw_ucla.yaml").read_text())
    cov = pm.coverage(rows, cfg)
    counts = pm.coverage_counts(cov)
    assert counts["total"] == sum(r["source"] == "paper" for r in rows)
    assert sum(counts[k] for k in ("compared", "reason", "outside", "missing")) == counts["total"]
    for c in cov:
        if c.status == "outside":
            assert c.row["dataset"] != "nw_ucla" and c.reason.startswith("this config runs no")
    ucla = [c for c in cov if c.row["dataset"] == "nw_ucla" and pm.intrinsic_reason(c.row) is None]
    assert ucla and all(c.status in ("compared", "missing") for c in ucla)


def test_planned_selection_rules_follow_the_validation_split(paper_cfg):
    """best_val is planned where the split has a validation split (NTU), best_test only in
    official_code mode; NW-UCLA-LT and Kinetics have no validation split."""
    planned = pm.planned_comparisons(paper_cfg)
    rules = lambda d, b, m, st, bb="stgcn++": {k[5] for k in planned if k[:5] == (d, b, bb, m, st)}  # noqa: E731
    assert rules("ntu60", "xsub", "brl", "6s") == {"last", "best_val", "best_test"}
    assert rules("nw_ucla", "default", "brl", "6s") == {"last"}
    assert rules("kinetics", "default", "brl", "4s") == {"last", "best_test"}
    assert rules("ntu60", "xsub", "ce", "4s", "msg3d") == {"last", "best_val"}


def test_stand_in_kinetics_four_streams_fused_3_3_1_1(stand_in):
    ens = [t for t in stand_in["targets"] if "kinetics" in t.as_posix() and "/ens-4s/" in t.as_posix()]
    assert ens and all(json.loads(t.read_text())["meta"]["weights"] == [3.0, 3.0, 1.0, 1.0] for t in ens)
