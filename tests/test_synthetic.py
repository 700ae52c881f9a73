"""The embedded synthetic dataset (benchmark/data/synthetic.py)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from benchmark.data import synthetic as syn
from benchmark.data.canonical import pack_samples
from benchmark.data.readers import RawDataset, get_reader
from benchmark.graphs import NTU25

SMALL = dict(num_classes=20, train_per_class=4, test_per_class=2)
BONES = [(c, p) for c, p in NTU25.bone_pairs if c != p]


@pytest.fixture(scope="module")
def raw() -> RawDataset:
    return syn.generate_synthetic(seed=0, **SMALL)


@pytest.fixture(scope="module")
def clean() -> RawDataset:
    """No sensor noise: bone lengths must then be exactly rigid."""
    return syn.generate_synthetic(seed=5, noise=0.0, bystander_prob=0.5, **SMALL)


def bone_lengths(person: np.ndarray) -> np.ndarray:
    """(T, bones) lengths of one person (T, 25, 3)."""
    c, p = np.array(BONES).T
    return np.linalg.norm(person[:, c] - person[:, p], axis=-1)


# --------------------------------------------------------------------------- basic structure

def test_dataset_fields(raw):
    assert raw.layout == "ntu25" and raw.coords == "xyz" and raw.benchmarks == ["default"]
    assert raw.num_classes == 20 and len(syn.CLASSES) >= 20
    assert len(raw.class_names) == 20 and len(set(raw.class_names)) == 20
    assert raw.class_names[:2] == ["wave_right", "reach_forward"]
    assert list(raw.table.columns) == ["name", "label", "default"]
    assert len(raw.samples) == len(raw.table) == 20 * 6


def test_split_counts_as_requested(raw):
    counts = raw.table.groupby(["label", "default"]).size().unstack()
    assert (counts["train"] == 4).all() and (counts["test"] == 2).all()
    assert sorted(counts.index) == list(range(20))


def test_names_follow_ntu_pattern_and_encode_label(raw):
    names = raw.table["name"].tolist()
    assert len(set(names)) == len(names)
    assert names == sorted(names)
    for name, label in zip(names, raw.table["label"]):
        assert re.fullmatch(r"S001C00[123]P\d{3}R\d{3}A\d{3}", name), name
        assert int(name[-3:]) - 1 == label


def test_cross_subject_split(raw):
    subj = raw.table["name"].str.slice(8, 12)
    train = set(subj[raw.table["default"] == "train"])
    test = set(subj[raw.table["default"] == "test"])
    assert train and test and not train & test


def test_shapes_lengths_dtype_finite(raw):
    for s in raw.samples:
        assert s.dtype == np.float32 and s.ndim == 4 and s.shape[2:] == (25, 3)
        assert s.shape[0] in (1, 2)
        assert 40 <= s.shape[1] <= 150
        assert np.isfinite(s).all()
    lengths = [s.shape[1] for s in raw.samples]
    assert len(set(lengths)) > 20                       # lengths vary per sample


def test_custom_frame_range():
    r = syn.generate_synthetic(num_classes=3, train_per_class=5, test_per_class=1, min_frames=10, max_frames=12)
    assert {s.shape[1] for s in r.samples} <= {10, 11, 12}


def test_one_and_two_person_samples(raw):
    persons = np.array([s.shape[0] for s in raw.samples])
    labels = raw.table["label"].to_numpy()
    assert (persons == 1).any() and (persons == 2).any()
    for name in ("handshake", "push", "give_object"):
        c = syn.CLASS_NAMES.index(name)
        assert (persons[labels == c] == 2).all()
    for s in raw.samples:
        if s.shape[0] == 2:
            assert np.abs(s[1]).sum(axis=(1, 2)).min() > 0     # the second person is present in every frame
            # two distinct bodies, at least ~0.5 m apart
            assert np.linalg.norm(s[0, :, 1] - s[1, :, 1], axis=-1).min() > 0.5


def test_camera_space_like_ntu(raw):
    first = np.stack([s[0, 0] for s in raw.samples])             # person 0, frame 0: (N, 25, 3)
    assert 2.0 < np.median(first[:, 1, 2]) < 4.0               # ≈ 3 m in front of the camera
    assert (first[:, 3, 1] > first[:, 0, 1]).mean() > 0.95     # head above the pelvis: y is up
    assert -0.6 < np.median(first[:, 1, 1]) < 0.6              # SpineMid near the camera height
    # the right shoulder is on +x when the person faces the camera (small yaw)
    yaw_small = raw.table["name"].str.slice(4, 8).to_numpy() == "C002"
    single = np.array([s.shape[0] == 1 for s in raw.samples])
    sel = yaw_small & single
    assert sel.sum() > 5
    assert (first[sel, 8, 0] > first[sel, 4, 0]).mean() > 0.9


# --------------------------------------------------------------------------- determinism

def test_same_seed_identical():
    a = syn.generate_synthetic(num_classes=20, train_per_class=2, test_per_class=1, seed=3)
    b = syn.generate_synthetic(num_classes=20, train_per_class=2, test_per_class=1, seed=3)
    assert a.table.equals(b.table)
    assert all(np.array_equal(x, y) for x, y in zip(a.samples, b.samples))


def test_different_seeds_differ():
    a = syn.generate_synthetic(num_classes=20, train_per_class=2, test_per_class=1, seed=3)
    b = syn.generate_synthetic(num_classes=20, train_per_class=2, test_per_class=1, seed=4)
    same = [x.shape == y.shape and np.allclose(x, y) for x, y in zip(a.samples, b.samples)]
    assert not any(same)


# --------------------------------------------------------------------------- kinematics

def test_kinematic_tree_is_the_layout_bone_tree():
    assert syn.PARENT[0] == 0 and syn.TOPO[0] == 0 and sorted(syn.TOPO) == list(range(25))
    for c, p in BONES:
        assert syn.PARENT[c] == p or syn.PARENT[p] == c
    seen = set()
    for j in syn.TOPO:                                    # parents come before children
        assert j == 0 or syn.PARENT[j] in seen
        seen.add(j)


def test_rotation_helpers():
    rz = syn._rot("z", np.array(np.pi / 2))
    assert np.allclose(syn._mv(rz, np.array([1.0, 0, 0])), [0, 1, 0])       # x -> y
    rx = syn._rot("x", np.array(np.pi / 2))
    assert np.allclose(syn._mv(rx, np.array([0, 1.0, 0])), [0, 0, 1])       # y -> z
    ry = syn._rot("y", np.array(np.pi / 2))
    assert np.allclose(syn._mv(ry, np.array([0, 0, 1.0])), [1, 0, 0])       # z -> x
    rng = np.random.default_rng(0)
    a, b = syn._rot("y", rng.normal(size=4)), syn._rot("x", rng.normal(size=4))
    ref = np.einsum("abn,bcn->acn", a, b)
    assert np.allclose(syn._mm(a, b), ref)
    m = np.diag([-1.0, 1.0, 1.0])
    assert np.allclose(syn._mirror(a), np.einsum("ab,bcn,cd->adn", m, a, m))


def test_rest_pose_and_limb_directions():
    def fk(**dofs):
        pose = syn._new_pose(1, 1)
        for k, v in dofs.items():
            pose[k][:] = v
        return syn.forward_kinematics(pose, np.ones((1, 25)))[:, 0, 0].T    # (25, 3)

    rest = fk()
    assert np.allclose(rest - rest[0], syn._REST - syn._REST[0], atol=1e-6)
    assert np.isclose(rest[:, 1].min(), 0.0, atol=1e-6)                    # feet on the floor
    # right arm raised 90° sideways points to +x (the person's right), forward reach to −z
    side = fk(r_elev=90.0)
    assert side[11, 0] - side[8, 0] > 0.5 and abs(side[11, 1] - side[8, 1]) < 0.1
    fwd = fk(r_elev=90.0, r_az=90.0)
    assert fwd[8, 2] - fwd[11, 2] > 0.5
    # the left arm mirrors the right one
    left = fk(l_elev=90.0)
    assert np.allclose(left[7] * [-1, 1, 1], side[11], atol=1e-5)
    # a squat lowers the pelvis, keeps the feet on the floor
    sq = fk(r_hip_flex=60, l_hip_flex=60, r_knee=100, l_knee=100)
    assert sq[0, 1] < rest[0, 1] - 0.15 and np.isclose(sq[[14, 15, 18, 19], 1].min(), 0, atol=1e-6)


def test_bones_rigid_within_sample_without_noise(clean):
    for s in clean.samples:
        for m in range(s.shape[0]):
            lengths = bone_lengths(s[m])
            assert np.abs(lengths - lengths[0]).max() < 2e-4, "bone lengths must not change over time"


def test_bones_nearly_rigid_with_noise(raw):
    spread = [bone_lengths(s[0]).std(axis=0).max() for s in raw.samples]
    assert max(spread) < 0.05                            # only the sensor noise (≈ 1 cm) moves them


def test_bone_lengths_vary_across_subjects(clean):
    first = np.stack([bone_lengths(s[0])[0] for s in clean.samples])      # (N, bones)
    subj = clean.table["name"].str.slice(8, 12).to_numpy()
    for bone in [(5, 4), (13, 12), (2, 20)]:
        k = BONES.index(bone)
        per_subject = {p: first[subj == p, k] for p in np.unique(subj)}
        # same subject -> same bone length; different subjects -> different lengths
        for v in per_subject.values():
            assert np.ptp(v) < 1e-3
        means = np.array([v[0] for v in per_subject.values()])
        assert means.std() > 0.005 and len(np.unique(means.round(4))) > len(means) // 2


def test_class_not_encoded_by_length():
    # lengths are drawn independently of the class: every class spans a wide range
    r = syn.generate_synthetic(num_classes=20, train_per_class=20, test_per_class=0, seed=1)
    lengths = np.array([s.shape[1] for s in r.samples])
    labels = r.table["label"].to_numpy()
    for c in range(20):
        assert np.ptp(lengths[labels == c]) > 40


# --------------------------------------------------------------------------- registry and errors

def test_reader_registry_returns_generator():
    reader = get_reader("synthetic")
    assert reader is syn.read_synthetic and reader.reader_version == syn.GENERATOR_VERSION
    r = reader("/does/not/matter", dataset_id="demo", num_classes=20, train_per_class=2, test_per_class=1,
               seed=7, max_frames=60)
    ref = syn.generate_synthetic(num_classes=20, train_per_class=2, test_per_class=1, seed=7, max_frames=60,
                                 dataset_id="demo")
    assert r.dataset == "demo" and r.table.equals(ref.table)
    assert all(np.array_equal(x, y) for x, y in zip(r.samples, ref.samples))
    assert max(s.shape[1] for s in r.samples) <= 60


def test_packs_into_canonical_array(raw):
    joints, frames, persons = pack_samples(raw.samples, 2, list(raw.table["name"]))
    assert joints.shape == (len(raw.samples), 2, max(frames), 25, 3)
    assert set(persons) == {1, 2}
    one = np.flatnonzero(persons == 1)[0]
    assert not joints[one, 1].any() and not joints[one, 0, frames[one]:].any()


@pytest.mark.parametrize("bad, msg", [
    (dict(num_classes=99), "num_classes"),
    (dict(min_frames=50, max_frames=40), "min_frames"),
    (dict(train_per_class=0), "train_per_class"),
    (dict(colour="red"), "unknown option"),
    (dict(noise=-1.0), "noise"),
    (dict(classes=["squat", "moonwalk", "clap"]), "unknown class"),
    (dict(classes=["squat", "clap"]), "num_classes=3 but 2 classes"),
    (dict(classes=["squat", "squat", "clap"]), "twice"),
])
def test_bad_options_raise_clear_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        syn.generate_synthetic(**{**dict(num_classes=3, train_per_class=1, test_per_class=1), **bad})


# --------------------------------------------------------------------------- primitives and semantics

def test_envelopes():
    u = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(syn.smoothstep(u), [0, 0.15625, 0.5, 0.84375, 1])        # 3x² − 2x³
    assert np.allclose(syn.bump(u), [0, 0.5, 1, 0.5, 0])                        # sin²(πu)
    assert np.allclose(syn.hold(u, 0.25, 0.25), [0, 1, 1, 1, 0])
    assert np.allclose(syn.osc(u, np.array(1.0)), [0, 1, 0, -1, 0], atol=1e-12)


def test_distractor_off_leaves_pose_untouched():
    pose = syn._new_pose(4, 10)
    tgrid = np.tile(np.linspace(0, 1, 10), (4, 1))
    syn._distract(pose, tgrid, 0.0, np.random.default_rng(0))
    assert all(not v.any() for v in pose.values())
    syn._distract(pose, tgrid, 1.0, np.random.default_rng(0))
    assert any(v.any() for v in pose.values())


def test_class_identity_is_in_the_motion():
    """wave_right lifts the right hand above the head, wave_left the left one; squat lowers the
    pelvis relative to the head height at rest (camera-independent quantities)."""
    r = syn.generate_synthetic(num_classes=12, train_per_class=12, test_per_class=0, seed=2)
    labels = r.table["label"].to_numpy()

    def frac(cls, fn):
        c = syn.CLASS_NAMES.index(cls)
        return np.mean([fn(r.samples[i][0]) for i in np.flatnonzero(labels == c)])

    def right_up(p):
        return (p[:, 11, 1] - p[:, 3, 1]).max() > 0

    def left_up(p):
        return (p[:, 7, 1] - p[:, 3, 1]).max() > 0

    assert frac("wave_right", right_up) > 0.8 and frac("wave_right", left_up) < 0.3
    assert frac("wave_left", left_up) > 0.8 and frac("wave_left", right_up) < 0.3

    def pelvis_drop(p):         # pelvis height above the lowest foot, min over time / first frame
        h = p[:, 0, 1] - p[:, [15, 19], 1].min(axis=1)
        return h.min() / h[0]

    c_sq, c_step = syn.CLASS_NAMES.index("squat"), syn.CLASS_NAMES.index("step_forward")
    sq = [pelvis_drop(r.samples[i][0]) for i in np.flatnonzero(labels == c_sq)]
    st = [pelvis_drop(r.samples[i][0]) for i in np.flatnonzero(labels == c_step)]
    assert np.median(sq) < 0.8 < np.median(st)


def test_classes_picked_by_name_head_first():
    r = syn.generate_synthetic(num_classes=3, train_per_class=2, test_per_class=1, classes=["jump", "clap", "squat"],
                               bystander_prob=0.0)
    assert r.class_names == ["jump", "clap", "squat"]
    assert r.extra["synthetic"]["classes"] == ("jump", "clap", "squat")
    # single-person classes without bystanders: every sample has one person
    assert {s.shape[0] for s in r.samples} == {1}
    assert sorted(set(r.table["label"])) == [0, 1, 2]


def test_max_persons_one_slot_and_recorded_only_when_not_default(tmp_path):
    """max_persons sets the person slots of the prepared array; only a value other than the default 2
    enters meta.json, so data prepared without the option keep their checksums (and run identities)."""
    import json

    from benchmark.data.canonical import load_dataset
    from benchmark.data.prepare import prepare_dataset

    opts = {"num_classes": 3, "train_per_class": 2, "test_per_class": 1, "seed": 0, "bystander_prob": 0.0}
    one = prepare_dataset("syn", "synthetic", None, tmp_path / "one", options=opts, max_persons=1)
    two = prepare_dataset("syn", "synthetic", None, tmp_path / "two", options=opts)
    assert load_dataset(one).joints.shape[1] == 1 and load_dataset(two).joints.shape[1] == 2   # (N, M, T, V, C)
    assert json.loads((tmp_path / "one" / "meta.json").read_text())["extra"]["max_persons"] == 1
    assert "max_persons" not in json.loads((tmp_path / "two" / "meta.json").read_text())["extra"]
    with pytest.raises(ValueError, match="max_persons must be at least 1"):
        prepare_dataset("syn", "synthetic", None, tmp_path / "zero", options=opts, max_persons=0)
