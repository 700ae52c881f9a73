"""docs/datasets.md's worked example, run as written: a 20-joint Kinect v1 export in its own joint
order, with its own benchmark name and a confidence channel, goes from files on disk through the
generic format to a report."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import LOCAL_RUN, REPO, snakemake

DOC = REPO / "docs" / "datasets.md"


def doc_block(marker: str, lang: str) -> str:
    text = DOC.read_text()
    m = re.search(rf"<!-- example: {re.escape(marker)} -->\s*```{lang}\n(.*?)```", text, re.S)
    assert m, f"docs/datasets.md lost its '{marker}' example"
    return m.group(1)


def write_files(cwd) -> None:
    subprocess.run([sys.executable, "-c", doc_block("kinect20-files", "python")], cwd=cwd, check=True)


def example_config(tmp_path) -> dict:
    cfg = yaml.safe_load(doc_block("kinect20-config", "yaml"))
    cfg.update({     # a tiny budget around the documented dataset block (both streams: the bones of its own layout)
        "backbones": [{"name": "stgcnpp", "base_channels": 8}], "methods": ["ce"], "streams": ["j", "b"],
        "ensembles": {"2s": "default"}, "seeds": [0],
        "schedule": {"runner_epochs": 1, "repeat": 1, "batch_size": 16, "clip_len": 16, "test_clips": 2},
        "augment": {"enabled": True},
    })
    return cfg


def test_example_files_and_layout_read(tmp_path):
    """Fast part: the files and the layout of the example are read and normalised correctly."""
    from benchmark.data.prepare import prepare_dataset
    from benchmark.data.canonical import load_dataset
    import benchmark.workflow as bw

    write_files(tmp_path)
    cfg = example_config(tmp_path)
    opts = bw.dataset_options(cfg, "kinect_lab")
    assert opts["coords"] == "xyz+score" and opts["layout"]["num_node"] == 20
    d = cfg["datasets"]["kinect_lab"]
    prepare_dataset("kinect_lab", "generic", tmp_path / "kinect_lab", tmp_path / "data", normalize=d["normalize"],
                    options=opts)
    ds = load_dataset(tmp_path / "data")
    assert ds.meta.coords == "xyz+score" and ds.joints.shape[-1] == 4 and ds.layout.num_node == 20
    assert ds.layout.lambda_x == pytest.approx(11 / 20)
    # prenorm3d in the example's own joint order: centred on the Spine (joint 2), and the last rotation
    # puts ShoulderLeft -> ShoulderRight (12 -> 16) on +x
    x = np.asarray(ds.joints[0, 0, 0])
    assert np.allclose(x[2, :3], 0.0, atol=1e-5) and not np.allclose(x[1, :3], 0.0)
    sh = x[16, :3] - x[12, :3]
    assert abs(sh[1]) < 1e-4 and abs(sh[2]) < 1e-4 and sh[0] > 0
    assert np.all((ds.joints[0, 0, :int(ds.table['frames'][0]), :, 3] >= 0.5))     # confidences untouched
    assert list(ds.meta.benchmarks) == ["cross_room"]


@pytest.mark.slow
def test_kinect20_example_from_files_to_report(tmp_path):
    write_files(tmp_path)
    cfg_path = tmp_path / "my_lab.yaml"
    cfg_path.write_text(yaml.safe_dump(example_config(tmp_path), sort_keys=False))
    snakemake([*LOCAL_RUN, "--configfile", cfg_path], cwd=tmp_path, timeout=1500)

    counts = pd.read_csv(tmp_path / "results" / "splits" / "kinect_lab_cross_room_lt10_counts.csv")
    assert counts["count"].tolist() == [30, 18, 11, 7, 4, 3]
    assert counts["many_above"].iloc[0] == 15 and counts["few_below"].iloc[0] == 6
    assert counts["shot"].tolist() == ["many", "many", "medium", "medium", "few", "few"]
    records = list((tmp_path / "results").rglob("metrics.json"))
    assert records, "no run wrote metrics.json"
    for rec in records:
        m = json.loads(rec.read_text())["metrics"]
        assert m["groups"] == {"many_above": 15, "few_below": 6}
        assert (m["n_many"], m["n_medium"], m["n_few"]) == (2, 2, 2)
    html = next((tmp_path / "reports").rglob("index.html")).read_text()
    assert "kinect_lab" in html and "cross_room" in html
    assert "Many (&gt;15)" in html or "Many (>15)" in html
