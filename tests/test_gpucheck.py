"""The first-GPU check runs end to end on the CPU (--device cpu --quick) and its JSON is what
``benchmark.estimate --throughput`` reads."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_gpu_check_quick_on_cpu_feeds_the_estimate(tmp_path, capsys):
    from benchmark import estimate, gpucheck

    out = tmp_path / "gpu_check.json"
    assert gpucheck.main(["--device", "cpu", "--quick", "--pairs", "1", "--backbones", "stgcnpp",
                          "--out", str(out), "--precision", "bf16"]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "gpu-check" and doc["device"] == "cpu" and doc["quick"] is True
    (row,) = doc["results"]
    assert row["backbone"] == "stgcnpp" and row["train_samples_per_s"] > 0 and row["path"] in gpucheck.CPU_PATHS + ("fp32",)
    comp = doc["bench"][0]
    assert set(comp["paths"]) == {"fp32", *gpucheck.CPU_PATHS}
    s = doc["stream"]
    assert s["method"] == "brl" and s["precision"] == "bf16" and s["schedule"]["precision"] == "bf16"
    assert s["train_samples_per_s"] > 0 and 0 <= s["top1"] <= 1 and s["bench_over_end_to_end"] > 0
    assert set(s["seconds"]) == {"prepare_s", "split_s", "train_and_test_s"}
    metrics = json.loads((tmp_path / "gpu_check" / "work" / "run" / "metrics.json").read_text())
    assert metrics["meta"]["precision"] == "bf16" and metrics["meta"]["compile"] is False
    assert "benchmark.estimate" in capsys.readouterr().out

    speeds = estimate.throughput_table(out)
    assert speeds["stgcnpp"]["train"] == pytest.approx(row["train_samples_per_s"])
    assert estimate.main(["--configfile", "config/nw_ucla.yaml", "--throughput", str(out)]) == 0
    assert "GPU-hours" in capsys.readouterr().out


def test_gpu_check_refuses_cuda_without_a_gpu(tmp_path):
    import torch
    from benchmark import gpucheck

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit, match="no GPU"):
        gpucheck.main(["--device", "cuda", "--out", str(tmp_path / "x.json")])
