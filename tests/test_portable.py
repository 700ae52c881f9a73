"""The project runs from a clone with nothing beside it (no ../shared): configs point inside the
project except for dataset roots, every root can be set on the command line, and only the selected
datasets are checked and planned."""
from __future__ import annotations

from pathlib import Path

import yaml

from helpers import REPO, job_counts, snakemake


def _snakemake(copy: Path, args, check: bool = True) -> str:
    proc = snakemake(args, cwd=copy, project=copy, timeout=600, check=check)
    return proc.stdout + proc.stderr


def test_configs_point_inside_the_project_except_roots():
    for cfg_path in sorted((REPO / "config").glob("*.yaml")):
        text = cfg_path.read_text()
        assert "../shared" not in text and "shared/data" not in text, cfg_path.name
        cfg = yaml.safe_load(text)
        for ds_id, d in cfg["datasets"].items():
            for key, value in (d.get("options") or {}).items():
                if key.endswith("_root") or key == "file":
                    assert not Path(str(value)).is_absolute(), (cfg_path.name, ds_id, key)
            sl = (d.get("lt") or {}).get("split_list")
            for v in (sl.values() if isinstance(sl, dict) else [sl]):
                assert v is None or str(v).startswith("official"), (cfg_path.name, ds_id, v)


def test_nw_ucla_alone_from_paper_config(project_clone, tmp_path):
    """Only NW-UCLA downloaded: the NW-UCLA part of the paper grid plans, nothing else is checked."""
    root = tmp_path / "nw_ucla"
    root.mkdir()
    out = _snakemake(project_clone, ["-n", "-p", "--configfile", "config/paper.yaml", "--config",
                             f"nw_ucla_root={root}", "select_datasets=nw_ucla"])
    counts = job_counts(out)
    assert counts["prepare"] == 1 and counts["split"] == 1, counts
    assert "--dataset nw_ucla" in out and "results/splits/nw_ucla_default_lt10.txt" in out
    assert "runs/nw_ucla_default_lt10/" in out
    for other in ("ntu60", "ntu120", "kinetics"):
        assert f"--dataset {other}" not in out and f"results/splits/{other}_" not in out
        assert f"runs/{other}_" not in out


def test_missing_root_reported_only_for_selected(project_clone, tmp_path):
    out = _snakemake(project_clone, ["-n", "--configfile", "config/paper.yaml", "--config", "select_datasets=nw_ucla",
                             f"nw_ucla_root={tmp_path / 'absent'}"], check=False)
    assert "dataset 'nw_ucla'" in out and "does not exist" in out
    assert "dataset 'ntu60'" not in out and "dataset 'kinetics'" not in out
    out = _snakemake(project_clone, ["-n", "--configfile", "config/paper.yaml", "--config", "select_datasets=nw_uclaa"],
                     check=False)
    assert "select_datasets: unknown dataset(s) ['nw_uclaa']" in out


def test_ntu_tables_plan_splits_from_packaged_lists(project_clone, tmp_path):
    stand_in = tmp_path / "pyskl"
    stand_in.mkdir()
    out = _snakemake(project_clone, ["-n", "-p", "--configfile", "config/paper.yaml", "--config", f"ntu60_root={stand_in}",
                             f"ntu120_root={stand_in}", "select_tables=I,II"])
    counts = job_counts(out)
    assert counts["prepare"] == 2 and counts["split"] == 4, counts
    for name in ("NTU60_xsub_exp_100", "NTU60_xview_exp_100", "NTU120_xsub_exp_100", "NTU120_xset_exp_100"):
        assert f"--split-list official:{name}" in out
    assert "nw_ucla" not in out and "kinetics_default" not in out


def test_kinetics_keypoint_folder_from_the_command_line(project_clone, tmp_path):
    root = tmp_path / "k400"
    root.mkdir()
    out = _snakemake(project_clone, ["-n", "-p", "--configfile", "config/kinetics.yaml", "--config", f"kinetics_root={root}",
                             "kinetics_kpfile_root=/elsewhere/kpfiles"])
    assert '"kpfile_root": "/elsewhere/kpfiles"' in out and f"--root {root}" in out
    out = _snakemake(project_clone, ["-n", "-p", "--configfile", "config/kinetics.yaml", "--config", f"kinetics_root={root}"])
    assert '"kpfile_root": "kpfiles"' in out             # relative: follows kinetics_root



def test_relative_kpfile_root_is_inside_root(tmp_path, monkeypatch):
    """kpfile_root: kpfiles (as in the configs) means <root>/kpfiles wherever the workflow runs."""
    import pickle

    import numpy as np

    from benchmark.data.readers import read_dataset

    root = tmp_path / "k400"
    (root / "my_kp").mkdir(parents=True)
    kp = {"vidA": {"keypoint": np.ones((2, 17, 3), np.float16)}}
    (root / "my_kp" / "part_0.pkl").write_bytes(pickle.dumps(kp))
    ann = {"frame_dir": "vidA", "label": 0, "img_shape": (360, 640), "original_shape": (360, 640),
           "total_frames": 2, "raw_file": "part_0.pkl", "frame_inds": np.array([0, 1]),
           "box_score": np.array([0.9, 0.9]), "valid": {0.5: 2}}
    (root / "k400_hrnet.pkl").write_bytes(pickle.dumps({"split": {"train": ["vidA"], "val": []}, "annotations": [ann]}))
    elsewhere = tmp_path / "workdir"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    raw = read_dataset("pyskl_hrnet", root, "kinetics", kpfile_root="my_kp")
    assert list(raw.table["name"]) == ["vidA"]
