"""The throughput benchmark (docs/training.md): JSON fields, exact MACs, CLI output. Tiny settings
(1 iteration, batch 1, short clips) so that it runs in a few seconds; no timing assertions."""
from __future__ import annotations

import json

import pytest

from benchmark import bench
from benchmark.graphs import get_layout

FIELDS = {"train_samples_per_s_mean", "infer_samples_per_s_mean", "backbone", "layout", "num_classes", "device", "device_name", "batch", "clip_len", "num_person",
          "warmup", "iters", "params", "backbone_params", "backbone_macs_per_clip", "macs_per_clip",
          "flops_per_clip", "train_samples_per_s", "infer_samples_per_s", "train_peak_mem_bytes",
          "infer_peak_mem_bytes", "peak_mem_kind"}

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_count_macs_matches_the_spec_golden_and_adds_the_head():
    # docs/backbones.md: ST-GCN++, NTU-25, T = 64: 1,872,006,400; the 60-class head adds 256·60.
    m = bench.count_macs("stgcnpp", get_layout("ntu25"), 60, 64)
    assert m["backbone_macs"] == 1_872_006_400
    assert m["macs"] == 1_872_006_400 + 256 * 60
    assert m["flops"] == 2 * m["macs"]


def test_run_benchmark_rows_have_the_documented_fields():
    rows = bench.run_benchmark(["stgcnpp", "msg3d"], device="cpu", batch=1, clip_len=8, warmup=0, iters=1,
                               base_channels=12)
    assert [r["backbone"] for r in rows] == ["stgcnpp", "msg3d"]
    for r in rows:
        assert FIELDS <= set(r)
        assert r["device"] == "cpu" and r["peak_mem_kind"] == "process_peak_rss"
        assert r["batch"] == 1 and r["iters"] == 1 and r["clip_len"] == 8
        assert r["train_samples_per_s"] > 0 and r["infer_samples_per_s"] > 0
        assert r["train_peak_mem_bytes"] > 0 and r["infer_peak_mem_bytes"] > 0
        assert r["params"] > r["backbone_params"] > 0
        assert r["macs_per_clip"] > r["backbone_macs_per_clip"] > 0
    json.dumps(rows)                           # JSON-serialisable
    assert "stgcnpp" in bench.format_table(rows) and "process peak RSS" in bench.format_table(rows)


def test_run_benchmark_rejects_bad_arguments():
    with pytest.raises(ValueError, match="iters"):
        bench.run_benchmark(["stgcnpp"], device="cpu", batch=1, iters=0)
    with pytest.raises(KeyError, match="unknown backbone 'nope'"):
        bench.run_benchmark(["nope"], device="cpu", batch=1, iters=1)


def test_cli_prints_table_and_json_and_writes_the_file(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--absolute", "--backbones", "ctrgcn", "--device", "cpu", "--batch", "1", "--clip-len", "8",
                       "--warmup", "0", "--iters", "1", "--base-channels", "8", "--layout", "coco17",
                       "--num-classes", "5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ctrgcn" in printed.splitlines()[3]
    saved = json.loads(out.read_text())
    assert json.loads(printed[printed.index("\n[") + 1:]) == saved
    assert saved[0]["layout"] == "coco17" and saved[0]["num_classes"] == 5
    assert saved[0]["params"] == saved[0]["backbone_params"] + 32 * 5 + 5


def test_throughput_uses_the_median_step_time():
    # steps of 1 s, 1 s and a 10 s stall, batch 4: median 1 s → 4 samples/s; mean 12/12 = 1
    t = bench.throughput(4, [1.0, 10.0, 1.0])
    assert t["median"] == pytest.approx(4.0) and t["mean"] == pytest.approx(1.0)
    assert bench.throughput(2, [1.0, 3.0])["median"] == pytest.approx(1.0)   # even count: midpoint


# ----------------------------------------------------------------------------- faster paths

def test_interleaved_ratio_is_the_median_of_pairwise_ratios():
    # pairs (base, path): (2, 1) → 2, (4, 1) → 4 (a stall hit the baseline), (3, 2) → 1.5 → median 2
    r = bench.interleaved_ratios([2.0, 4.0, 3.0], [1.0, 1.0, 2.0])
    assert r == {"median": 2.0, "min": 1.5, "max": 4.0, "pairs": 3}
    with pytest.raises(ValueError):
        bench.interleaved_ratios([1.0], [1.0, 2.0])


def test_path_names_combine_tokens():
    o = bench.path_options("bf16+matmul+cl")
    assert (o.precision, o.graph_impl, o.channels_last, o.compile) == ("bf16", "matmul", True, False)
    assert bench.path_options("fp32").precision == "fp32" and bench.path_options("compile").compile
    with pytest.raises(ValueError, match="unknown path token 'fp16'"):
        bench.path_options("fp16")


def test_compare_paths_and_estimate_rows_feed_the_estimate(tmp_path):
    from benchmark.estimate import throughput_table

    res = bench.compare_paths("stgcnpp", ["bf16", "matmul+cl"], "cpu", batch=1, clip_len=8, pairs=2,
                              warmup=0, base_channels=8, num_classes=5)
    assert list(res["paths"]) == ["fp32", "bf16", "matmul+cl"]
    for name, row in res["paths"].items():
        for phase in ("train", "infer"):
            assert len(row[phase]["step_times_s"]) == 2 and row[phase]["samples_per_s"] > 0
            q = row[phase]["ratio_vs_fp32"]
            assert q["pairs"] == 2 and q["min"] <= q["median"] <= q["max"]
    assert res["paths"]["fp32"]["train"]["ratio_vs_fp32"]["median"] == 1.0
    rows = bench.estimate_rows([res])
    assert rows[0]["backbone"] == "stgcnpp" and rows[0]["path"] in res["paths"]
    out = tmp_path / "b.json"
    out.write_text(json.dumps({"kind": "bench-compare", "comparisons": [res], "results": rows}))
    t = throughput_table(out)
    assert t["stgcnpp"]["train"] == pytest.approx(rows[0]["train_samples_per_s"])
    assert "stgcnpp" in bench.format_comparison([res])


def test_compare_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert bench.main(["--backbones", "msg3d", "--device", "cpu", "--paths", "bf16,matmul", "--batch", "1",
                       "--clip-len", "8", "--base-channels", "6", "--pairs", "1", "--warmup", "0",
                       "--phases", "infer", "--threads", "1", "--packed", "0", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "bench-compare" and set(doc["comparisons"][0]["paths"]) == {"fp32", "bf16", "matmul"}
    assert "infer" in doc["comparisons"][0]["paths"]["bf16"] and "msg3d" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown path token"):
        bench.main(["--paths", "turbo", "--device", "cpu"])


def test_packed_vs_separate_reports_interleaved_ratio():
    r = bench.packed_vs_separate(2, "cpu", base_channels=8, batch=2, clip_len=6, pairs=2, warmup=0)
    assert r["num_runs"] == 2 and len(r["separate_step_s"]) == len(r["packed_step_s"]) == 2
    assert r["packed_samples_per_s"] > 0 and r["ratio_packed_vs_separate"]["pairs"] == 2
    assert "packed runs: 2 × stgcnpp" in bench.format_packed(r) and r["packing"] == "channel"


def test_bare_command_is_a_quick_look_at_every_backbone(tmp_path, capsys):
    """No --paths: each backbone's default training path (matmul graph conv on a CPU) against fp32
    eager and no packed-runs line; --all-paths adds every faster path (here at tiny shapes)."""
    assert bench.default_path("cpu") == "matmul"
    tiny = ["--device", "cpu", "--clip-len", "8", "--base-channels", "6", "--pairs", "1", "--warmup", "0",
            "--phases", "infer", "--threads", "1"]
    out = tmp_path / "quick.json"
    assert bench.main(tiny + ["--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [c["backbone"] for c in doc["comparisons"]] == list(bench.DEFAULT_BACKBONES)
    assert all(set(c["paths"]) == {"fp32", "matmul"} and c["batch"] == bench.QUICK["batch"]["cpu"]
               for c in doc["comparisons"])
    assert "packed" not in doc
    printed = capsys.readouterr().out
    assert all(name in printed for name in bench.DEFAULT_BACKBONES)
    assert bench.main(tiny + ["--all-paths", "--backbones", "stgcnpp", "--batch", "1", "--packed", "0",
                              "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())["comparisons"][0]["paths"]) == {"fp32", *bench.CPU_DEFAULT_PATHS}
