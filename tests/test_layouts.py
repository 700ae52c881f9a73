"""Layouts against docs/datasets.md: golden adjacency sums, skip pairs, flips, RPM partitions, validation."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.graphs import LAYOUTS, LayoutError, get_layout, k_hop_adjacency, layout_from_dict, _pairs

# name: (edges, distinct parents, stgcn_spatial non-zeros diag/close/further)   (docs/datasets.md)
GOLDEN = {
    "ntu25": (24, 18, (25, 40, 8)),
    "nw_ucla20": (19, 15, (20, 31, 7)),
    "coco17": (16, 11, (17, 22, 10)),
    "openpose18": (17, 12, (18, 25, 9)),
}

SKIPS = {  # docs/datasets.md, verbatim
    "ntu25": "(0,20) (1,1) (2,2) (3,20) (4,4) (5,20) (6,4) (7,5) (8,8) (9,20) (10,8) (11,9) (12,1) (13,0) (14,12) "
             "(15,13) (16,1) (17,0) (18,16) (19,17) (20,20) (21,7) (22,6) (23,11) (24,10)",
    "nw_ucla20": "(0,2) (1,1) (2,2) (3,3) (4,4) (5,2) (6,4) (7,5) (8,8) (9,2) (10,8) (11,9) (12,1) (13,0) (14,12) "
                 "(15,13) (16,1) (17,0) (18,16) (19,17)",
    "coco17": "(0,0) (1,1) (2,2) (3,0) (4,0) (5,5) (6,6) (7,0) (8,0) (9,5) (10,6) (11,11) (12,12) (13,0) (14,0) "
              "(15,11) (16,12)",
    "openpose18": "(0,0) (1,1) (2,2) (3,1) (4,2) (5,5) (6,1) (7,5) (8,1) (9,2) (10,8) (11,1) (12,5) (13,11) (14,1) "
                  "(15,1) (16,0) (17,0)",
}

FLIPS = {
    "ntu25": [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22],
    "nw_ucla20": [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15],
    "coco17": [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
    "openpose18": [0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16],
}

UPPER = {  # (upper, |upper|/V)
    "ntu25": ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 24], 0.64),
    "nw_ucla20": (list(range(1, 12)), 0.55),
    "coco17": (list(range(11)), 11 / 17),
    "openpose18": ([0, 1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17], 12 / 18),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_spatial_sums(name):
    lay = get_layout(name)
    edges, parents, _ = GOLDEN[name]
    a = lay.adjacency("spatial")
    v = lay.num_node
    assert a.shape == (3, v, v)
    np.testing.assert_array_equal(a[0], np.eye(v))
    assert a[1].sum() == pytest.approx(edges) and a[2].sum() == pytest.approx(parents)
    assert (a[1] != 0).sum() == edges and (a[2] != 0).sum() == edges
    # orientation: E[j, i] = 1 for an inward pair (i, j)
    i, j = lay.inward[0]
    assert a[1][j, i] > 0


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_binary_and_stgcn(name):
    lay = get_layout(name)
    edges, _, nnz = GOLDEN[name]
    b = lay.adjacency("binary_adj")
    assert b.shape == (1, lay.num_node, lay.num_node) and b.sum() == 2 * edges and np.trace(b[0]) == 0
    s = lay.adjacency("stgcn_spatial")
    assert tuple(int((s[k] != 0).sum()) for k in range(3)) == nnz
    assert k_hop_adjacency(lay, 0).tolist() == np.eye(lay.num_node).tolist()


def test_unknown_mode():
    with pytest.raises(LayoutError, match="unknown adjacency mode"):
        get_layout("ntu25").adjacency("nope")


@pytest.mark.parametrize("name", sorted(SKIPS))
def test_skip_pairs(name):
    assert get_layout(name).skip_pairs == _pairs(SKIPS[name])


def test_openpose_skip_uses_neck_root():
    lay = get_layout("openpose18")
    s = dict(lay.skip_pairs)
    assert (s[2], s[5], s[14], s[15]) == (2, 5, 1, 1)          # not the nose-rooted (0, 0, 14, 15)


@pytest.mark.parametrize("name", sorted(FLIPS))
def test_flip_involution(name):
    lay = get_layout(name)
    assert list(lay.flip) == FLIPS[name]
    p = np.array(lay.flip)
    assert np.array_equal(p[p], np.arange(lay.num_node))
    x = np.random.default_rng(0).standard_normal((2, 3, lay.num_node, 3))
    np.testing.assert_array_equal(x[..., p, :][..., p, :], x)


@pytest.mark.parametrize("name", sorted(UPPER))
def test_rpm_partition(name):
    lay = get_layout(name)
    up, share = UPPER[name]
    assert sorted(lay.upper) == up
    assert sorted(set(lay.upper) | set(lay.lower)) == list(range(lay.num_node))
    assert not set(lay.upper) & set(lay.lower)
    assert lay.lambda_x == pytest.approx(share)


def test_ntu_graph_vs_bones_hand_inconsistency():
    lay = get_layout("ntu25")
    assert (21, 7) in lay.inward and (22, 7) in lay.inward
    assert (21, 22) in lay.bone_pairs and (22, 7) in lay.bone_pairs


def test_norm_axes():
    for name in ("ntu25", "nw_ucla20"):
        lay = get_layout(name)
        assert lay.spine == (0, 1) and lay.shoulders == (4, 8) and lay.norm_center == 1
    assert len(LAYOUTS) == 4


def _chain(**kw):
    spec = {"name": "chain", "num_node": 5, "center": 0, "inward": [[1, 0], [2, 1], [3, 2], [4, 3]]}
    spec.update(kw)
    return spec


def test_custom_layout_defaults():
    lay = layout_from_dict(_chain(flip=[[1, 2]], upper=[0, 1, 2]))
    assert lay.bone_pairs == ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3))
    assert lay.skip_pairs == ((0, 0), (1, 1), (2, 0), (3, 1), (4, 2))
    assert lay.flip == (0, 2, 1, 3, 4) and lay.lower == (3, 4)


@pytest.mark.parametrize("kw, message", [
    ({"inward": [[1, 0], [2, 1], [3, 2], [7, 3]]}, "out of range"),
    ({"inward": [[1, 0], [2, 1], [3, 2]]}, "in no edge"),
    ({"upper": [0, 1, 2], "lower": [2, 3, 4]}, "disjoint"),
    ({"upper": [0, 1], "lower": [2, 3]}, "cover all"),
    ({"center": 9}, "out of range"),
    ({"spine": [0, 8]}, "out of range"),
])
def test_custom_layout_errors(kw, message):
    with pytest.raises(LayoutError, match=message):
        layout_from_dict(_chain(**kw))


def test_flip_not_involution():
    from dataclasses import replace
    lay = get_layout("nw_ucla20")
    with pytest.raises(LayoutError, match="involution"):
        replace(lay, flip=(1, 2, 0) + tuple(range(3, 20)))
