"""benchmark/data/splits.py against docs/datasets.md, and the official NTU-LT lists (docs/datasets.md)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from benchmark.data.splits import (SplitError, build_lt_split, counts_table, lt_profile, read_split_list,
                                   shot_group, ten_group_index, write_split_list)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LISTS = DATA / "brl_lt_splits"

# docs/datasets.md, per-class counts for the default ratios (class 0 first)
NTU60_R100 = [600, 554, 513, 474, 439, 406, 375, 347, 321, 297, 274, 254, 235, 217, 201, 186, 172, 159, 147,
              136, 125, 116, 107, 99, 92, 85, 78, 72, 67, 62, 57, 53, 49, 45, 42, 39, 36, 33, 30, 28, 26, 24,
              22, 20, 19, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 8, 7, 7, 6, 6]
NTU120_XSUB_R100 = [600, 577, 555, 534, 513, 494, 475, 457, 440, 423, 407, 391, 377, 362, 349, 335, 323, 310, 298,
                    287, 276, 266, 256, 246, 237, 228, 219, 211, 203, 195, 187, 180, 173, 167, 160, 154, 148, 143,
                    137, 132, 127, 122, 118, 113, 109, 105, 101, 97, 93, 90, 86, 83, 80, 77, 74, 71, 68, 66, 63, 61,
                    58, 56, 54, 52, 50, 48, 46, 44, 43, 41, 39, 38, 36, 35, 34, 32, 31, 30, 29, 28, 27, 26, 25, 24,
                    23, 22, 21, 20, 19, 19, 18, 17, 17, 16, 15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 9,
                    8, 8, 8, 7, 7, 7, 7, 6, 6, 6, 6]
NTU120_XSET_R100 = [400, 384, 370, 356, 342, 329, 317, 305, 293, 282, 271, 261, 251, 241, 232, 223, 215, 207, 199,
                    191, 184, 177, 170, 164, 158, 152, 146, 140, 135, 130, 125, 120, 115, 111, 107, 103, 99, 95, 91,
                    88, 85, 81, 78, 75, 72, 70, 67, 64, 62, 60, 57, 55, 53, 51, 49, 47, 45, 44, 42, 40, 39, 37, 36,
                    34, 33, 32, 31, 29, 28, 27, 26, 25, 24, 23, 22, 21, 21, 20, 19, 18, 18, 17, 16, 16, 15, 14, 14,
                    13, 13, 12, 12, 11, 11, 10, 10, 10, 9, 9, 9, 8, 8, 8, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 4,
                    4, 4, 4]
NW_UCLA_R10 = [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]

# (C, n_max, r) -> (total, first five, last five)  (docs/datasets.md)
PROFILES = {
    (60, 600, 100): (7892, [600, 554, 513, 474, 439], [8, 7, 7, 6, 6]),
    (60, 600, 50): (9150, [600, 561, 525, 491, 460], [15, 14, 13, 12, 12]),
    (60, 600, 10): (14142, [600, 577, 554, 533, 513], [70, 67, 64, 62, 60]),
    (120, 600, 100): (15600, [600, 577, 555, 534, 513], [7, 6, 6, 6, 6]),
    (120, 600, 50): (18137, [600, 580, 561, 543, 526], [13, 13, 12, 12, 12]),
    (120, 600, 10): (28182, [600, 588, 577, 566, 555], [64, 63, 62, 61, 60]),
    (120, 400, 100): (10378, [400, 384, 370, 356, 342], [4, 4, 4, 4, 4]),
    (120, 400, 50): (12069, [400, 387, 374, 362, 350], [9, 8, 8, 8, 8]),
    (120, 400, 10): (18771, [400, 392, 384, 377, 370], [43, 42, 41, 40, 40]),
    (10, 100, 10): (403, [100, 77, 59, 46, 35], [27, 21, 16, 12, 10]),
}


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_profile_totals_and_ends(key):
    c, n_max, r = key
    total, head, tail = PROFILES[key]
    p = lt_profile(c, n_max, r)
    assert len(p) == c and p.sum() == total
    assert list(p[:5]) == head and list(p[-len(tail):]) == tail
    assert p[0] == n_max and p[-1] == n_max // r                   # r = n_0 / n_{C-1}
    assert np.all(np.diff(p) <= 0)


@pytest.mark.parametrize("c, n_max, full", [(60, 600, NTU60_R100), (120, 600, NTU120_XSUB_R100),
                                             (120, 400, NTU120_XSET_R100), (10, 100, NW_UCLA_R10)])
def test_profile_full_lists(c, n_max, full):
    r = 10 if c == 10 else 100
    assert list(lt_profile(c, n_max, r)) == full


# Many / Medium / Few per docs/datasets.md: (many, medium, few)
SHOTS = {
    (60, 600, 100): (23, 21, 16), (60, 600, 50): (27, 25, 8), (60, 600, 10): (46, 14, 0),
    (120, 600, 100): (47, 41, 32), (120, 600, 50): (55, 49, 16), (120, 600, 10): (93, 27, 0),
    (120, 400, 100): (36, 42, 42), (120, 400, 50): (42, 50, 28), (120, 400, 10): (72, 48, 0),
    (10, 100, 10): (0, 7, 3),
}


@pytest.mark.parametrize("key", sorted(SHOTS))
def test_many_medium_few(key):
    p = lt_profile(*key)
    groups = [shot_group(int(n)) for n in p]
    assert (groups.count("many"), groups.count("medium"), groups.count("few")) == SHOTS[key]
    # groups are contiguous in class order for the exponential profiles
    assert groups == sorted(groups, key=["many", "medium", "few"].index)


def test_shot_boundaries():
    assert [shot_group(n) for n in (101, 100, 20, 19)] == ["many", "medium", "medium", "few"]


@pytest.mark.parametrize("c", [10, 60, 120, 400])
def test_ten_groups(c):
    counts = lt_profile(c, 600, 100) if c != 10 else lt_profile(10, 100, 10)
    g = ten_group_index(counts)
    assert list(np.bincount(g, minlength=10)) == [c // 10] * 10
    assert list(g) == sorted(g)                                   # class order = frequency order here
    # an unsorted profile is ranked by count first (distinct counts here) ...
    distinct = np.arange(c, 0, -1) * 3
    assert list(ten_group_index(distinct[::-1])) == list(ten_group_index(distinct)[::-1])
    # ... and ties are broken by ascending class index
    assert list(ten_group_index(np.full(c, 5))) == list(np.repeat(np.arange(10), c // 10))


def test_counts_table():
    labels = [0] * 120 + [1] * 50 + [2] * 5
    t = counts_table(labels, 3, ["a", "b", "c"])
    assert list(t["count"]) == [120, 50, 5] and list(t["shot"]) == ["many", "medium", "few"]
    assert list(t["rank"]) == [0, 1, 2]


def test_legacy_rng_protocol_toy():
    names = [f"n{i:02d}" for i in range(30)]
    labels = [i % 3 for i in range(30)]
    kept = build_lt_split(names, labels, 3, n_max=8, ratio=4)
    assert [int(n[1:]) % 3 for n in kept] == [0] * 8 + [1] * 4 + [2] * 2
    rs = np.random.RandomState(0)
    ref = []
    for c, n_c in enumerate((8, 4, 2)):
        sub = np.array([n for n, l in zip(names, labels) if l == c])
        ref += list(sub[rs.permutation(len(sub))][:n_c])     # permutation == shuffle under the legacy RNG
    assert kept == ref
    gen = np.random.default_rng(0)
    new = []
    for c, n_c in enumerate((8, 4, 2)):
        sub = [n for n, l in zip(names, labels) if l == c]
        gen.shuffle(sub)
        new += sub[:n_c]
    assert new != kept                                       # the new Generator is NOT equivalent
    # nested ratios: r=4 list is a subset of the r=2 list built from the same source
    assert set(kept) <= set(build_lt_split(names, labels, 3, n_max=8, ratio=2))
    with pytest.raises(SplitError, match="class 0"):
        build_lt_split(names, labels, 3, n_max=11, ratio=2)


def test_split_list_io(tmp_path):
    p = tmp_path / "l.txt"
    write_split_list(p, ["a", "b", "c"])
    assert p.read_text() == "a\nb\nc\n"
    assert read_split_list(p) == ["a", "b", "c"]
    p.write_text("a\n\nb\nc")                                # no trailing newline, empty line
    assert read_split_list(p, known_names=["a", "b", "c", "d"]) == ["a", "b", "c"]
    p.write_text("a\nb\na\n")
    with pytest.raises(SplitError, match="line 3 is a duplicate of line 1"):
        read_split_list(p)
    p.write_text("a\nz\n")
    with pytest.raises(SplitError, match="line 2: sample 'z'"):
        read_split_list(p, known_names=["a", "b"])
    with pytest.raises(SplitError, match="does not exist"):
        read_split_list(tmp_path / "nope.txt")


# --------------------------------------------------------------------------- official NTU-LT lists

OFFICIAL = {  # file: (C, n_max, r, md5)  (docs/datasets.md)
    "NTU60_LT/NTU60_xsub_exp_100.txt": (60, 600, 100, "0fca053584be69e96c210d119dd1be44"),
    "NTU60_LT/NTU60_xsub_exp_50.txt": (60, 600, 50, "0852ba921589841f55a6a7933594f25e"),
    "NTU60_LT/NTU60_xsub_exp_10.txt": (60, 600, 10, "7232c8d1d03de229aeea9322cc118ae9"),
    "NTU60_LT/NTU60_xview_exp_100.txt": (60, 600, 100, "56aee8583d50acec5e738605dddcc315"),
    "NTU60_LT/NTU60_xview_exp_50.txt": (60, 600, 50, "cbc6812cbf49b22c41b2bc133d957803"),
    "NTU60_LT/NTU60_xview_exp_10.txt": (60, 600, 10, "6fb22f162fae5d33843c418379c1b1d1"),
    "NTU120_LT/NTU120_xsub_exp_100.txt": (120, 600, 100, "022fb8ec205344043871da1cda0d6119"),
    "NTU120_LT/NTU120_xsub_exp_50.txt": (120, 600, 50, "9f316610963431632214ec6f313a4ce2"),
    "NTU120_LT/NTU120_xsub_exp_10.txt": (120, 600, 10, "c9b39be8b5b9c0dfd7d4261ca8c5992d"),
    "NTU120_LT/NTU120_xset_exp_100.txt": (120, 400, 100, "edcd9ba00802d3db548518e3cab2db84"),
    "NTU120_LT/NTU120_xset_exp_50.txt": (120, 400, 50, "8c3320fce15f3a5680a2f5ab7c1daa80"),
    "NTU120_LT/NTU120_xset_exp_10.txt": (120, 400, 10, "8816d1dfc359c9266512da5edb5ae800"),
}


@pytest.fixture(scope="module")
def manifest():
    if not (LISTS / "MANIFEST.sha256").exists():
        pytest.skip(f"official BRL NTU-LT lists not found at {LISTS} (developer data beside the project)")
    out = {}
    for line in (LISTS / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split()
        out[name.removeprefix("./")] = digest
    return out


@pytest.mark.realdata
@pytest.mark.parametrize("rel", sorted(OFFICIAL))
def test_official_lists(manifest, rel):
    from benchmark.data.readers.ntu_skeleton import NAME_RE, ntu_split
    c, n_max, r, md5 = OFFICIAL[rel]
    path = LISTS / rel
    data = path.read_bytes()
    assert hashlib.md5(data).hexdigest() == md5
    assert hashlib.sha256(data).hexdigest() == manifest[rel]
    names = read_split_list(path)
    assert all(NAME_RE.match(n) for n in names)
    labels = np.array([int(n[-3:]) - 1 for n in names])          # A field (label + 1)
    assert list(labels) == sorted(labels)                         # grouped by class in class order
    assert list(np.bincount(labels, minlength=c)) == list(lt_profile(c, n_max, r))
    bench = rel.split("_")[-3]
    dataset = "ntu60" if rel.startswith("NTU60") else "ntu120"
    assert all(ntu_split(n, bench, dataset) == "train" for n in names)      # subsets of the training split


@pytest.mark.realdata
def test_official_lists_nested(manifest):
    for stem in ("NTU60_LT/NTU60_xsub", "NTU60_LT/NTU60_xview", "NTU120_LT/NTU120_xsub", "NTU120_LT/NTU120_xset"):
        s100, s50, s10 = (set(read_split_list(LISTS / f"{stem}_exp_{r}.txt")) for r in (100, 50, 10))
        assert s100 <= s50 <= s10
    assert len(read_split_list(LISTS / "NTU60_LT/NTU60_xsub_exp_100.txt")) == 7892
