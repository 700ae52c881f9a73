"""Readers on small files built here (docs/datasets.md): NTU .skeleton, pyskl pickles,
Kinetics JSON, the generic format, and the bad-input cases."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.data.canonical import DatasetError
from benchmark.data.readers import get_reader, read_dataset
from benchmark.data.readers import ntu_skeleton as ntu
from benchmark.data.readers.generic import check_sample, training_order
from benchmark.data.readers.kinetics_json import clip_to_array
from benchmark.data.readers.pyskl import decompress_pose
from benchmark.data.readers.safe_pickle import UnsafePickleError, safe_load, safe_loads

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- NTU .skeleton

def body_joints(t: int, offset=(0.0, 0.0, 3.0), spread_x=0.3, spread_y=1.0, jitter=0.05, seed=0) -> np.ndarray:
    """(t, 25, 3) upright-ish body: x-extent spread_x, y-extent spread_y (valid under the 0.8 rule)."""
    rng = np.random.default_rng(seed)
    base = np.stack([np.linspace(-spread_x / 2, spread_x / 2, 25), np.linspace(-spread_y / 2, spread_y / 2, 25),
                     np.zeros(25)], axis=1)
    return base[None] + np.asarray(offset) + jitter * rng.standard_normal((t, 25, 3))


def skeleton_text(frames) -> str:
    """frames: list of lists of (body_id, (25, 3) array). Writes the official text layout."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for bid, joints in bodies:
            out.append(f"{bid} 0 1 1 1 1 0 0.1 0.2 2")
            out.append(str(len(joints)))
            for x, y, z in joints:
                out.append(f"{x:.6f} {y:.6f} {z:.6f} 250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.9 2")
    return "\n".join(out) + "\n"


def write_skeleton(folder: Path, name: str, frames) -> Path:
    p = folder / f"{name}.skeleton"
    p.write_text(skeleton_text(frames))
    return p


def one_body_frames(t: int, bid="72057594037931101", seed=0, empty_at=()):
    j = body_joints(t, seed=seed)
    frames = [[(bid, j[i])] for i in range(t)]
    for k in empty_at:
        frames.insert(k, [])
    return frames


def test_ntu_single_body_and_empty_frames(tmp_path):
    frames = one_body_frames(5, empty_at=(0, 3))          # 7 file frames, 2 without a body
    p = write_skeleton(tmp_path, "S001C001P001R001A001", frames)
    x, digest = ntu.read_skeleton_file(p)
    assert x.shape == (1, 5, 25, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], body_joints(5), atol=1e-5)
    assert len(digest) == 64


def test_ntu_two_bodies_noise_and_slots(tmp_path):
    t = 20
    a = body_joints(t, offset=(0, 0, 3), jitter=0.2, seed=1)        # more motion: slot 0
    b = body_joints(t, offset=(1, 0, 3), jitter=0.01, seed=2)
    noise = body_joints(5, offset=(2, 0, 3), seed=3)                 # <= 11 frames: dropped
    frames = [[("1", a[i]), ("2", b[i])] + ([("3", noise[i])] if i < 5 else []) for i in range(t)]
    p = write_skeleton(tmp_path, "S001C001P002R001A050", frames)
    x, _ = ntu.read_skeleton_file(p)
    assert x.shape == (2, t, 25, 3)
    np.testing.assert_allclose(x[0], a, atol=1e-5)
    np.testing.assert_allclose(x[1], b, atol=1e-5)


def test_ntu_spread_denoising_and_sequential_bodies(tmp_path):
    t = 15
    a = body_joints(t, jitter=0.01, seed=4)
    flat = body_joints(t, offset=(1, 0, 3), spread_x=2.0, spread_y=0.5, jitter=0.3, seed=5)   # x-extent > 0.8 y
    frames = [[("1", a[i]), ("9", flat[i])] for i in range(t)]
    x, _ = ntu.read_skeleton_file(write_skeleton(tmp_path, "S001C001P001R001A002", frames))
    assert x.shape == (1, t, 25, 3)                       # the wide body is dropped despite its motion
    np.testing.assert_allclose(x[0], a, atol=1e-5)
    # two bodies one after the other share slot 0 (no overlap), the slot-1 stays empty
    c = body_joints(12, seed=6, jitter=0.2)
    d = body_joints(12, seed=7, jitter=0.1)
    frames = [[("1", c[i])] for i in range(12)] + [[("2", d[i])] for i in range(12)]
    x, _ = ntu.read_skeleton_file(write_skeleton(tmp_path, "S001C001P001R001A003", frames))
    assert x.shape == (2, 24, 25, 3)
    np.testing.assert_allclose(x[0, :12], c, atol=1e-5)
    np.testing.assert_allclose(x[0, 12:], d, atol=1e-5)
    assert not x[1].any()


@pytest.mark.parametrize("mutate, message", [
    (lambda s: "\n".join(s.splitlines()[:40]), "truncated"),
    (lambda s: s.replace(" 2\n25\n", " 2\n24\n", 1), "expected 25"),
    (lambda s: s.replace("250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.9 2", "250.1 200.2", 1), "expected 12"),
    (lambda s: s.replace("0 1 1 1 1 0 0.1 0.2 2", "0 1 1 1", 1), "expected 10"),
    (lambda s: "\n".join("nan" + l[l.index(" "):] if i == 4 else l for i, l in enumerate(s.splitlines())),
     "NaN"),
    (lambda s: "3\n" + s.split("\n", 1)[1] + "0\n0\nextra\n", "unexpected content"),
])
def test_ntu_bad_files(tmp_path, mutate, message):
    text = mutate(skeleton_text(one_body_frames(3)))
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text(text)
    with pytest.raises(DatasetError, match=message) as e:
        ntu.read_skeleton_file(p)
    assert str(p) in str(e.value)


def test_ntu_only_short_bodies_is_error(tmp_path):
    a, b = body_joints(5, seed=1), body_joints(5, seed=2)
    p = write_skeleton(tmp_path, "S001C001P001R001A001", [[("1", a[i]), ("2", b[i])] for i in range(5)])
    with pytest.raises(DatasetError, match="<= 11 frames"):
        ntu.read_skeleton_file(p)


def test_ntu_folder_reader_missing_list_and_splits(tmp_path):
    names = ["S001C001P001R001A001", "S001C002P003R002A002", "S002C003P002R001A060", "S001C002P005R002A008"]
    for k, n in enumerate(names):
        write_skeleton(tmp_path, n, one_body_frames(4, seed=k))
    with pytest.raises(DatasetError, match="expected 56578"):
        read_dataset("ntu_skeleton", tmp_path, "ntu60")
    raw = read_dataset("ntu_skeleton", tmp_path, "ntu60", expect_complete=False)
    # S001C002P005R002A008 is on the official missing list and is skipped
    assert set(raw.table["name"]) == set(names[:3])
    assert raw.layout == "ntu25" and raw.num_classes == 60 and raw.benchmarks == ["xsub", "xview"]
    row = raw.table.set_index("name")
    assert row.loc["S002C003P002R001A060", "label"] == 59
    assert row.loc["S001C001P001R001A001", "xsub"] == "train" and row.loc["S001C001P001R001A001", "xview"] == "test"
    assert row.loc["S001C002P003R002A002", "xsub"] == "test" and row.loc["S001C002P003R002A002", "xview"] == "train"
    # a user-given list (official header lines are ignored)
    lst = tmp_path / "missing.txt"
    lst.write_text("302 of the captured samples ...\n\nS001C001P001R001A001\n")
    raw = read_dataset("ntu_skeleton", tmp_path, "ntu60", expect_complete=False, missing_list=str(lst))
    assert "S001C001P001R001A001" not in set(raw.table["name"])
    assert "S001C002P005R002A008" in set(raw.table["name"])


def test_ntu_bad_name(tmp_path):
    write_skeleton(tmp_path, "S001C001P001A001", one_body_frames(3))
    with pytest.raises(DatasetError, match="does not match the NTU pattern"):
        read_dataset("ntu_skeleton", tmp_path, "ntu60", expect_complete=False)


def test_builtin_missing_lists():
    m120, m60 = ntu.missing_names("ntu120"), ntu.missing_names("ntu60")
    assert len(m120) == 535 and len(m60) == 302 and m60 < m120
    # the published file holds 21 bytes per name (docs/datasets.md: 11,235 and 6,342 bytes)
    assert sum(len(n) + 1 for n in m120) == 11235 and sum(len(n) + 1 for n in m60) == 6342


def test_ntu_table_source_order():
    names = ["S002C001P002R001A001", "S001C001P002R001A001", "S001C001P001R001A002", "S002C002P001R001A001",
             "S001C002P003R001A001"]
    t = ntu.ntu_table(names, "ntu120")
    # xsub training order: grouped by performer (1, 2, 4, ...), name order within a performer
    assert training_order(t, "xsub") == ["S001C001P001R001A002", "S002C002P001R001A001",
                                         "S001C001P002R001A001", "S002C001P002R001A001"]
    assert list(t["name"][:4]) == training_order(t, "xsub")          # rows follow the first benchmark
    assert training_order(t, "xset") == ["S002C001P002R001A001", "S002C002P001R001A001"]
    assert t.set_index("name").loc["S001C002P003R001A001", "xsub"] == "test"


# --------------------------------------------------------------------------- safe pickle

class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned > /dev/null",))


def test_safe_pickle_refuses_code(tmp_path):
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"split": {}, "annotations": [_Evil()]}))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*(posix|os)\.system"):
        safe_load(p)
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        safe_loads(b"cbuiltins\neval\n(S'1+1'\ntR.", "eval.pkl")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_safe_pickle_admits_numpy(protocol):
    d = {"a": np.arange(6, dtype=np.float16).reshape(2, 3), "s": np.float64(1.5), "l": [1, "x", None, (2.0, True)]}
    out = safe_loads(pickle.dumps(d, protocol=protocol))
    np.testing.assert_array_equal(out["a"], d["a"])
    assert out["a"].dtype == np.float16 and out["s"] == 1.5 and out["l"] == d["l"]


def test_safe_pickle_truncated(tmp_path):
    p = tmp_path / "t.pkl"
    p.write_bytes(pickle.dumps({"a": np.zeros(100)})[:50])
    with pytest.raises(DatasetError, match="truncated"):
        safe_load(p)


# --------------------------------------------------------------------------- pyskl pickles

def _ntu_ann(name, t=6, m=1, seed=0):
    kp = np.random.default_rng(seed).standard_normal((m, t, 25, 3)).astype(np.float16)
    return {"frame_dir": name, "label": int(name[-3:]) - 1, "keypoint": kp, "total_frames": t}


NTU_NAMES = ["S001C001P001R001A001", "S001C002P003R001A002", "S002C003P001R002A003", "S001C003P002R001A001"]


def _ntu_pickle(tmp_path, anns=None, split=None, name="ntu60_3danno.pkl"):
    anns = anns if anns is not None else [_ntu_ann(n, t=5 + k, m=1 + k % 2, seed=k) for k, n in enumerate(sorted(NTU_NAMES))]
    if split is None:
        split = {}
        for b in ("xsub", "xview"):
            split[f"{b}_train"] = sorted(n for n in NTU_NAMES if ntu.ntu_split(n, b, "ntu60") == "train")
            split[f"{b}_val"] = sorted(n for n in NTU_NAMES if ntu.ntu_split(n, b, "ntu60") == "test")
    p = tmp_path / name
    p.write_bytes(pickle.dumps({"split": split, "annotations": anns}))
    return p


def test_pyskl_3d(tmp_path):
    _ntu_pickle(tmp_path)
    raw = read_dataset("pyskl_pickle", tmp_path, "ntu60")
    assert raw.layout == "ntu25" and raw.coords == "xyz" and raw.num_classes == 60
    row = raw.table.set_index("name")
    x = raw.samples[list(raw.table["name"]).index("S002C003P001R002A003")]
    assert x.dtype == np.float32 and x.shape == (2, 8, 25, 3)          # 4th name in sorted order: t=8, m=2
    np.testing.assert_array_equal(x, _ntu_ann("S002C003P001R002A003", t=8, m=2, seed=3)["keypoint"].astype(np.float32))
    assert row.loc["S001C002P003R001A002", "xsub"] == "test" and row.loc["S001C003P002R001A001", "xsub"] == "train"
    assert set(raw.table.columns) >= {"name", "label", "xsub", "xview", "order_xsub", "order_xview"}


@pytest.mark.parametrize("case, message", [
    ("extra_key", "exactly the keys"),
    ("frames", "total_frames"),
    ("joints", "joints per frame"),
    ("nan", "NaN"),
    ("split_unknown", "have no annotation"),
    ("label", "disagrees with its action id"),
    ("empty", "empty sequence"),
])
def test_pyskl_bad(tmp_path, case, message):
    anns = [_ntu_ann(n, seed=k) for k, n in enumerate(sorted(NTU_NAMES))]
    split = None
    if case == "frames":
        anns[0]["total_frames"] = 99
    elif case == "joints":
        anns[1]["keypoint"] = np.zeros((1, 6, 17, 3), np.float16)
    elif case == "nan":
        anns[2]["keypoint"][0, 1, 3, 0] = np.nan
    elif case == "split_unknown":
        split = {"xsub_train": ["S009C001P001R001A001"], "xsub_val": [], "xview_train": [], "xview_val": []}
    elif case == "label":
        anns[0]["label"] = 5
    elif case == "empty":
        anns[0]["keypoint"] = np.zeros((1, 0, 25, 3), np.float16)
        anns[0]["total_frames"] = 0
    p = _ntu_pickle(tmp_path, anns, split)
    if case == "extra_key":
        p.write_bytes(pickle.dumps({"split": {}, "annotations": [], "meta": 1}))
    with pytest.raises(DatasetError, match=message) as e:
        read_dataset("pyskl_pickle", tmp_path, "ntu60")
    assert str(p) in str(e.value)


def test_pyskl_2d_appends_score(tmp_path):
    anns = []
    for k, n in enumerate(sorted(NTU_NAMES)):
        kp = RNG.uniform(0, 1000, (2, 4, 17, 2)).astype(np.float32)
        anns.append({"frame_dir": n, "label": int(n[-3:]) - 1, "keypoint": kp, "total_frames": 4,
                     "keypoint_score": np.full((2, 4, 17), 0.5, np.float32), "img_shape": (1080, 1920),
                     "original_shape": (1080, 1920)})
    _ntu_pickle(tmp_path, anns, name="ntu60_hrnet.pkl")
    raw = read_dataset("pyskl_pickle", tmp_path, "ntu60")
    assert raw.layout == "coco17" and raw.coords == "xy+score"
    assert raw.samples[0].shape == (2, 4, 17, 3) and np.all(raw.samples[0][..., 2] == 0.5)
    assert list(raw.table["img_w"].unique()) == [1920]
    with pytest.raises(DatasetError, match="joints per frame"):
        read_dataset("pyskl_pickle", tmp_path, "ntu60", layout="ntu25")


def test_decompress_pose():
    kp = np.arange(5 * 17 * 3, dtype=np.float32).reshape(5, 17, 3)
    frames = np.array([3, 3, 7, 9, 9])
    box = np.array([0.9, 0.2, 0.8, 0.9, 0.9])
    x = decompress_pose(kp, frames)
    assert x.shape == (2, 3, 17, 3)                        # frames 3, 7, 9 squeezed to 0, 1, 2
    np.testing.assert_array_equal(x[1, 0], kp[1])          # second skeleton of frame 3 in slot 1
    assert not x[1, 1].any()
    x = decompress_pose(kp, frames, box, box_thr=0.5)
    assert x.shape == (2, 3, 17, 3) and not x[1, 0].any()
    x = decompress_pose(kp, frames, max_skeletons=1)       # > max: sort by summed score per frame
    np.testing.assert_array_equal(x[0, 0], kp[1])


def test_pyskl_hrnet_toc(tmp_path):
    (tmp_path / "kpfiles").mkdir()
    kp = {"vidA": {"keypoint": RNG.uniform(1, 100, (3, 17, 3)).astype(np.float16)},
          "vidB": {"keypoint": RNG.uniform(1, 100, (2, 17, 3)).astype(np.float16)}}
    (tmp_path / "kpfiles" / "part_000.pkl").write_bytes(pickle.dumps(kp))
    anns = [{"frame_dir": "vidA", "label": 3, "img_shape": (360, 640), "original_shape": (360, 640),
             "total_frames": 10, "raw_file": "/mnt/k400/kpfiles/part_000.pkl", "frame_inds": np.array([0, 0, 4]),
             "box_score": np.array([0.9, 0.3, 0.9]), "valid": {0.5: 2}},
            {"frame_dir": "vidB", "label": 1, "img_shape": (480, 640), "original_shape": (480, 640),
             "total_frames": 5, "raw_file": "part_000.pkl", "frame_inds": np.array([1, 2]),
             "box_score": np.array([0.2, 0.2]), "valid": {0.5: 0}}]
    (tmp_path / "k400_hrnet.pkl").write_bytes(pickle.dumps({"split": {"train": ["vidA"], "val": ["vidB"]},
                                                            "annotations": anns}))
    raw = read_dataset("pyskl_hrnet", tmp_path, "kinetics")
    assert raw.layout == "coco17" and list(raw.table["name"]) == ["vidA", "vidB"]
    assert list(raw.table["default"]) == ["train", "test"] and list(raw.table["img_h"]) == [360, 480]
    assert raw.samples[0].shape == (2, 2, 17, 3)           # no filtering when valid_ratio = 0
    raw = read_dataset("pyskl_hrnet", tmp_path, "kinetics", valid_ratio=0.1)
    assert list(raw.table["name"]) == ["vidA"] and raw.samples[0].shape == (1, 2, 17, 3)


# --------------------------------------------------------------------------- Kinetics JSON

def _clip(label, idx, frames):
    data = []
    for fi, skels in frames:
        data.append({"frame_index": fi, "skeleton": [
            {"pose": [float(v) for v in np.full(36, s / 10)], "score": [float(s)] * 18} for s in skels]})
    return {"data": data, "label": label, "label_index": idx}


def _kinetics_root(tmp_path, clip_a=None):
    for part in ("kinetics_train", "kinetics_val"):
        (tmp_path / part).mkdir()
    clip_a = clip_a or _clip("abseiling", 0, [(1, []), (2, [0.2, 0.9, 0.5]), (3, [0.1]), (4, [])])
    (tmp_path / "kinetics_train" / "aaa.json").write_text(json.dumps(clip_a))
    (tmp_path / "kinetics_val" / "bbb.json").write_text(json.dumps(_clip("zumba", 1, [(1, [0.3])])))
    (tmp_path / "kinetics_train_label.json").write_text(json.dumps({
        "aaa": {"has_skeleton": True, "label": "abseiling", "label_index": 0},
        "ccc": {"has_skeleton": False, "label": "zumba", "label_index": 1}}))
    (tmp_path / "kinetics_val_label.json").write_text(json.dumps({
        "bbb": {"has_skeleton": True, "label": "zumba", "label_index": 1},
        "ddd": {"has_skeleton": True, "label": "abseiling", "label_index": 0}}))


def test_kinetics_json_reader(tmp_path):
    _kinetics_root(tmp_path)
    with pytest.raises(DatasetError, match="ddd"):                 # listed with skeleton, but no file
        read_dataset("stgcn_openpose", tmp_path, "kinetics", num_classes=2)
    raw = read_dataset("stgcn_openpose", tmp_path, "kinetics", num_classes=2, require_all=False)
    assert list(raw.table["name"]) == ["aaa", "bbb"] and list(raw.table["label"]) == [0, 1]
    assert raw.class_names == ["abseiling", "zumba"] and raw.layout == "openpose18"
    x = raw.samples[0]
    assert x.shape == (2, 3, 18, 3)                                 # trailing empty frame trimmed
    assert not x[:, 0].any()                                        # frame_index 1 was empty
    np.testing.assert_allclose(x[:, 1, 0, 2], [0.9, 0.5])           # top-2 by score, descending
    np.testing.assert_allclose(x[0, 2, 0], [0.01, 0.01, 0.1])


@pytest.mark.parametrize("bad, message", [
    (_clip("abseiling", 0, [(1, [0.5])]) | {"label_index": 7}, "label_index 7"),
    ({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 30, "score": [0.5] * 18}]}],
      "label": "abseiling", "label_index": 0}, "36 values"),
    ({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 36, "score": [0.5] * 17}]}],
      "label": "abseiling", "label_index": 0}, "18 values"),
    (_clip("abseiling", 0, [(1, [])]), "empty sequence"),
])
def test_kinetics_json_bad(tmp_path, bad, message):
    _kinetics_root(tmp_path, bad)
    with pytest.raises(DatasetError, match=message) as e:
        read_dataset("stgcn_openpose", tmp_path, "kinetics", num_classes=2, require_all=False)
    assert "aaa.json" in str(e.value)


def test_kinetics_truncated_json(tmp_path):
    _kinetics_root(tmp_path)
    p = tmp_path / "kinetics_train" / "aaa.json"
    p.write_text(p.read_text()[:40])
    with pytest.raises(DatasetError, match="not valid JSON"):
        read_dataset("stgcn_openpose", tmp_path, "kinetics", num_classes=2, require_all=False)


def test_clip_to_array_keeps_first_five():
    clip = _clip("x", 0, [(1, [0.1, 0.2, 0.3, 0.4, 0.5, 0.99])])   # the 6th (best) is beyond num_person_in
    x = clip_to_array(clip, "c")
    np.testing.assert_allclose(x[:, 0, 0, 2], [0.5, 0.4])


# --------------------------------------------------------------------------- generic format

def _generic(tmp_path, ragged=False):
    names = ["s0", "s1", "s2"]
    arr = np.zeros((3, 1, 6, 20, 3), np.float32)
    for i, t in enumerate((6, 4, 1)):
        arr[i, 0, :t] = RNG.standard_normal((t, 20, 3))
    if ragged:
        np.savez(tmp_path / "joints.npz", **{n: arr[i, :, : (6, 4, 1)[i]] for i, n in enumerate(names)})
    else:
        np.save(tmp_path / "joints.npy", arr)
    pd.DataFrame({"name": names, "label": [0, 2, 1], "default": ["train", "train", "test"]}).to_csv(
        tmp_path / "labels.csv", index=False)
    return arr


@pytest.mark.parametrize("ragged", [False, True])
def test_generic_reader(tmp_path, ragged):
    arr = _generic(tmp_path, ragged)
    raw = read_dataset("generic", tmp_path, "mydata", layout="nw_ucla20")
    assert raw.benchmarks == ["default"] and raw.num_classes == 3 and raw.layout == "nw_ucla20"
    assert [s.shape[1] for s in raw.samples] == [6, 4, 1]
    np.testing.assert_array_equal(raw.samples[1], arr[1, :, :4])


def test_generic_custom_layout_and_errors(tmp_path):
    _generic(tmp_path)
    custom = {"name": "chain20", "num_node": 20, "center": 0, "inward": [[i, i - 1] for i in range(1, 20)]}
    raw = read_dataset("generic", tmp_path, "mydata", layout=custom)
    assert raw.layout == "chain20" and raw.extra["layout_spec"]["num_node"] == 20
    with pytest.raises(DatasetError, match="joints per frame"):
        read_dataset("generic", tmp_path, "mydata", layout="ntu25")
    with pytest.raises(DatasetError, match="no layout given"):
        read_dataset("generic", tmp_path, "mydata")
    pd.DataFrame({"name": ["s0", "s1", "s0"], "label": [0, 1, 1], "default": ["train"] * 3}).to_csv(
        tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetError, match="appears twice"):
        read_dataset("generic", tmp_path, "mydata", layout="nw_ucla20")


def test_generic_pickled_npy_refused(tmp_path):
    _generic(tmp_path)
    np.save(tmp_path / "joints.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="cannot read"):
        read_dataset("generic", tmp_path, "mydata", layout="nw_ucla20")


def test_check_sample_rules():
    assert check_sample(np.zeros((1, 1, 20, 3)), "s", 20, 3).shape == (1, 1, 20, 3)     # T = 1 is valid
    with pytest.raises(DatasetError, match="empty sequence"):
        check_sample(np.zeros((1, 0, 20, 3)), "s", 20, 3)
    with pytest.raises(DatasetError, match="inf"):
        check_sample(np.full((1, 2, 20, 3), np.inf), "s", 20, 3)


def test_all_sources_registered():
    for name in ("nw_ucla_json", "pyskl_pickle", "pyskl_hrnet", "ntu_skeleton", "stgcn_openpose", "generic"):
        assert get_reader(name).reader_name == name
