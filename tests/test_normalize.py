"""benchmark/data/normalize.py against docs/training.md and docs/datasets.md."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.data.canonical import DatasetError
from benchmark.data.normalize import (align_to, image_shapes, normalize_dataset, normalize_sample, prenorm2d_to_pixels,
                                      prenorm3d, rotation_matrix)
from benchmark.data.readers import RawDataset
from benchmark.graphs import get_layout

NTU = get_layout("ntu25")
UCLA = get_layout("nw_ucla20")


def _person(t, v=25, seed=0, offset=(0.3, -0.2, 3.0)):
    return np.random.default_rng(seed).standard_normal((t, v, 3)) * 0.3 + np.asarray(offset)


def test_rotation_matrix_rodrigues():
    r = rotation_matrix(np.array([0, 0, 1.0]), np.pi / 2)          # +90° about z: x -> y
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.array_equal(rotation_matrix(np.zeros(3), 1.0), np.eye(3))
    assert np.array_equal(rotation_matrix(np.array([1.0, 0, 0]), 1e-8), np.eye(3))
    v = np.array([0.3, -1.2, 0.4])
    np.testing.assert_allclose(align_to(v, np.array([0, 0, 1.0])) @ v, [0, 0, np.linalg.norm(v)], atol=1e-12)
    # anti-parallel: the axis is zero, so the identity is used (spec: axis numerically zero)
    assert np.array_equal(align_to(np.array([0, 0, -1.0]), np.array([0, 0, 1.0])), np.eye(3))


@pytest.mark.parametrize("layout", [NTU, UCLA])
def test_prenorm3d_invariants(layout):
    x = _person(12, layout.num_node)[None].astype(np.float32)
    y = prenorm3d(x, layout)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y[0, 0, 1], 0, atol=1e-5)                   # joint 1 at the origin
    s = y[0, 0, 8] - y[0, 0, 4]
    assert s[0] > 0 and abs(s[1]) < 1e-5 and abs(s[2]) < 1e-5             # shoulders along +x
    # a rigid motion: pairwise distances are preserved
    d = lambda a: np.linalg.norm(a[0, :, :, None] - a[0, :, None, :], axis=-1)
    np.testing.assert_allclose(d(y), d(x), atol=1e-4)


def test_prenorm3d_spine_exact_when_perpendicular():
    x = np.zeros((1, 2, 25, 3))
    x[0, :, :] = [1.0, 1.0, 1.0]
    x[0, :, 0] = [1, 1, 1]; x[0, :, 1] = [1, 2, 1]                       # spine along +y
    x[0, :, 4] = [1, 1.5, 0.5]; x[0, :, 8] = [1, 1.5, 1.5]               # shoulders along +z (perpendicular)
    y = prenorm3d(x, NTU)
    spine = y[0, 0, 1] - y[0, 0, 0]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(y[0, 0, 8] - y[0, 0, 4], [1, 0, 0], atol=1e-6)


def test_prenorm3d_drops_empty_frames_and_keeps_zero_joints():
    p = _person(6)
    p[0, 5] = 0.0                                                          # a zero joint (not padding)
    x = np.zeros((2, 9, 25, 3))
    x[0, [0, 1, 3, 4, 6, 7]] = p                                           # frames 2, 5, 8 empty
    x[1, 2] = _person(1, seed=3)[0]                                        # only person 1 in frame 2
    y = prenorm3d(x, NTU)
    assert y.shape == (2, 6, 25, 3)                                        # frames of person 0 kept
    assert not y[1].any()
    assert np.all(y[0, 0, 5] == 0)                                         # exactly-zero joints stay zero


def test_prenorm3d_all_zero_unchanged():
    x = np.zeros((2, 5, 25, 3), np.float32)
    y = prenorm3d(x, NTU)
    assert y.shape == x.shape and not y.any()


def test_prenorm3d_person_swap():
    x = np.zeros((2, 8, 25, 3))
    x[0, :3] = _person(3, seed=1, offset=(5, 5, 5))
    x[1, 1:8] = _person(7, seed=2)
    y = prenorm3d(x, NTU)
    assert y.shape == (2, 7, 25, 3)                                        # person 1's 7 frames kept
    np.testing.assert_allclose(y[0, 0, 1], 0, atol=1e-5)                   # person 1 is now the main person
    assert y[1, :2].any() and not y[1, 2:].any()                           # former person 0 in slot 1
    # equal counts: no swap
    x2 = np.zeros((2, 4, 25, 3))
    x2[0, :2] = _person(2, seed=1); x2[1, 2:] = _person(2, seed=2)
    y2 = prenorm3d(x2, NTU)
    assert y2.shape == (2, 2, 25, 3) and not y2[1].any()


def test_prenorm3d_center_override_and_errors():
    x = _person(4, 20)[None]
    y = prenorm3d(x, UCLA, center_joint=19)                                # official_code mode (F18)
    np.testing.assert_allclose(y[0, 0, 19], 0, atol=1e-5)
    with pytest.raises(DatasetError, match="spine/shoulders"):
        prenorm3d(np.ones((1, 2, 17, 3)), get_layout("coco17"))
    with pytest.raises(DatasetError, match="expects"):
        prenorm3d(np.ones((1, 2, 20, 3)), NTU)


def test_prenorm2d_fix():
    x = np.zeros((1, 1, 17, 3), np.float32)
    x[0, 0, 0] = [960, 540, 0.9]
    x[0, 0, 1] = [1920, 0, 0.5]
    x[0, 0, 2] = [100, 100, 0.01]                                          # score <= 0.01 → (0, 0)
    y = normalize_sample(x, get_layout("coco17"), "prenorm2d", img_shape=(1080, 1920))
    np.testing.assert_allclose(y[0, 0, 0], [0, 0, 0.9])
    np.testing.assert_allclose(y[0, 0, 1], [1, -1, 0.5])
    np.testing.assert_allclose(y[0, 0, 2], [0, 0, 0.01])


def test_stgcn_center_and_minmax():
    x = np.array([[[[0.75, 0.25, 0.5], [0.3, 0.3, 0.0]] + [[0.5, 0.5, 1.0]] * 16]], np.float32)
    y = normalize_sample(x, get_layout("openpose18"), "stgcn_center")
    np.testing.assert_allclose(y[0, 0, 0], [0.25, 0.25, 0.5])
    np.testing.assert_allclose(y[0, 0, 1], [0, 0, 0])
    z = normalize_sample(_person(5, 20)[None], UCLA, "ctrgcn_minmax")
    np.testing.assert_allclose(z.min(axis=(0, 1, 2)), -1, atol=1e-6)
    np.testing.assert_allclose(z.max(axis=(0, 1, 2)), 1, atol=1e-6)
    flat = _person(1, 20)[None].copy()
    flat[..., 2] = 3.0                                                     # constant axis -> 0, no division
    assert np.all(normalize_sample(flat, UCLA, "ctrgcn_minmax")[..., 2] == 0)


def test_unknown_mode():
    with pytest.raises(DatasetError, match="unknown normalisation mode"):
        normalize_sample(np.ones((1, 1, 25, 3)), NTU, "zscore")


def test_normalize_dataset_per_row_image_shape():
    xs = [np.full((1, 2, 17, 3), [320, 240, 1.0], np.float32), np.full((1, 3, 17, 3), [320, 240, 1.0], np.float32)]
    table = pd.DataFrame({"name": ["a", "b"], "label": [0, 1], "default": ["train", "test"],
                          "img_h": [480, 240], "img_w": [640, 320]})
    raw = RawDataset(dataset="k", layout="coco17", num_classes=2, benchmarks=["default"], samples=xs, table=table)
    out = normalize_dataset(raw, "prenorm2d")
    np.testing.assert_allclose(out.samples[0][0, 0, 0], [0, 0, 1])
    np.testing.assert_allclose(out.samples[1][0, 0, 0], [1, 1, 1])
    assert out.extra["normalize"] == "prenorm2d" and raw.samples[0][0, 0, 0, 0] == 320   # input untouched
    raw3 = RawDataset(dataset="n", layout="ntu25", num_classes=1, benchmarks=["default"],
                      samples=[np.concatenate([np.zeros((1, 2, 25, 3)), _person(3)[None]], 1).astype(np.float32)],
                      table=pd.DataFrame({"name": ["s"], "label": [0], "default": ["train"]}))
    assert normalize_dataset(raw3, "prenorm3d").samples[0].shape == (1, 3, 25, 3)


# ------------------------------------------------------------- F16: pixel coordinates at load time
def test_prenorm2d_to_pixels_hand_computed():
    """The released K400 pipeline sees pixels: x = x′·w/2 + w/2, y = y′·h/2 + h/2, per video."""
    x = np.zeros((2, 1, 1, 17, 3), np.float32)                      # (N, M, T, V, C)
    x[0, 0, 0, 0] = [0.0, 0.0, 0.9]                                 # image centre of 640 × 480: (320, 240)
    x[0, 0, 0, 1] = [-0.5, 0.25, 0.6]                               # (160, 300)
    x[0, 0, 0, 2] = [0.0, 0.0, 0.01]                                # dropped by prenorm2d (score ≤ 0.01): stays 0
    x[1, 0, 0, 0] = [1.0, -1.0, 0.7]                                # 1280 × 720: right edge, top (1280, 0)
    x[1, 0, 0, 1] = [-0.75, 0.5, 0.3]                               # (160, 540)
    hw = np.array([[480, 640], [720, 1280]])
    y = prenorm2d_to_pixels(x, hw)
    np.testing.assert_allclose(y[0, 0, 0, 0], [320, 240, 0.9], rtol=1e-6)
    np.testing.assert_allclose(y[0, 0, 0, 1], [160, 300, 0.6], rtol=1e-6)
    np.testing.assert_allclose(y[0, 0, 0, 2], [0, 0, 0.01], rtol=1e-6)
    np.testing.assert_allclose(y[1, 0, 0, 0], [1280, 0, 0.7], rtol=1e-6)
    np.testing.assert_allclose(y[1, 0, 0, 1], [160, 540, 0.3], rtol=1e-6)
    assert (y[:, :, :, 3:] == 0).all() and y.dtype == np.float32     # zero padding (score 0) stays zero
    assert x[0, 0, 0, 0, 0] == 0.0                                  # input untouched


def test_prenorm2d_to_pixels_inverts_normalize_dataset():
    rng = np.random.default_rng(3)
    raw_px = [np.concatenate([rng.uniform(1, 600, (2, 5, 17, 2)), rng.uniform(0.02, 1, (2, 5, 17, 1))], -1)
              .astype(np.float32) for _ in range(2)]
    table = pd.DataFrame({"name": ["a", "b"], "label": [0, 1], "default": ["train", "test"],
                          "img_h": [360, 480], "img_w": [640, 854]})
    raw = RawDataset(dataset="k", layout="coco17", num_classes=2, benchmarks=["default"], samples=raw_px, table=table)
    prepared = np.stack(normalize_dataset(raw, "prenorm2d").samples)
    back = prenorm2d_to_pixels(prepared, image_shapes(table, np.arange(2), "k/table.csv"))
    np.testing.assert_allclose(back, np.stack(raw_px), rtol=1e-5, atol=1e-3)


def test_image_shapes_name_the_sample_without_a_size():
    table = pd.DataFrame({"name": ["vidA", "vidB"], "img_h": [360, 0], "img_w": [640, 0]})
    np.testing.assert_array_equal(image_shapes(table, np.array([0]), "t.csv"), [[360, 640]])
    with pytest.raises(DatasetError, match=r"t\.csv: sample 'vidB' has no valid image size"):
        image_shapes(table, np.array([0, 1]), "t.csv")
    with pytest.raises(DatasetError, match=r"t\.csv: no img_h/img_w column"):
        image_shapes(table[["name"]], np.array([0]), "t.csv")
    with pytest.raises(DatasetError, match="expects"):
        prenorm2d_to_pixels(np.zeros((2, 17, 3)), np.ones((3, 2)))
