"""Skeleton layouts: the single authority for joints, edges, bones, skips, flips and body partitions.

Every component (the backbones' adjacency, the bone/skip streams, the flip augmentation and
rebalanced partial mixup) reads its joint tables from a :class:`Layout` defined here
(docs/datasets.md). Pure Python + numpy; importing this module never imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Pair = Tuple[int, int]


class LayoutError(ValueError):
    """A layout table is inconsistent (raised with the layout name and the offending entry)."""


@dataclass(frozen=True)
class Layout:
    """One joint layout. Pairs are ``(child, parent)`` ("inward")."""

    name: str
    num_node: int
    center: int
    inward: Tuple[Pair, ...]
    bone_pairs: Tuple[Pair, ...]
    flip: Tuple[int, ...]
    upper: Tuple[int, ...]
    lower: Tuple[int, ...]
    #: 3D normalisation axes: spine (a -> b) is rotated onto +z, shoulders (a -> b) onto +x.
    spine: Optional[Pair] = None
    shoulders: Optional[Pair] = None
    #: translation centre used by PreNormalize3D (joint 1 for NTU and NW-UCLA).
    norm_center: Optional[int] = None
    joint_names: Tuple[str, ...] = field(default_factory=tuple)
    #: root of the bone tree used to derive skip pairs (defaults to ``center``).
    skip_root: Optional[int] = None

    def __post_init__(self) -> None:
        validate_layout(self)

    # ----------------------------------------------------------------- derived tables
    @property
    def outward(self) -> Tuple[Pair, ...]:
        return tuple((j, i) for i, j in self.inward)

    @property
    def skip_pairs(self) -> Tuple[Pair, ...]:
        """Grandparent pairs derived from the bone tree by the rule of docs/datasets.md."""
        return derive_skip_pairs(self.bone_pairs, self.skip_root if self.skip_root is not None else self.center,
                                 self.num_node)

    @property
    def lambda_x(self) -> float:
        """Share of joints that RPM keeps from the first sample: |U| / V (docs/methods.md)."""
        return len(self.upper) / self.num_node

    def pairs_for(self, stream: str) -> Optional[Tuple[Pair, ...]]:
        base = stream.rstrip("m") if stream.endswith("m") else stream
        return {"j": None, "b": self.bone_pairs, "k": self.skip_pairs}[base]

    def adjacency(self, mode: str = "spatial") -> np.ndarray:
        return build_adjacency(self, mode)


# --------------------------------------------------------------------------- helpers

def _edge_matrix(links: Sequence[Pair], num_node: int) -> np.ndarray:
    """E(links): E[j, i] = 1 for every pair (i, j) (docs/datasets.md, note the transposition)."""
    e = np.zeros((num_node, num_node), dtype=np.float64)
    for i, j in links:
        e[j, i] = 1.0
    return e


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """Norm(A) = A · diag(d)^-1 with d the column sums; zero columns stay zero."""
    d = a.sum(axis=0)
    inv = np.zeros_like(d)
    nz = d > 0
    inv[nz] = 1.0 / d[nz]
    return a @ np.diag(inv)


def hop_distance(num_node: int, edges: Sequence[Pair], max_hop: int = 1) -> np.ndarray:
    adj = np.zeros((num_node, num_node))
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    hop = np.full((num_node, num_node), np.inf)
    powers = [np.linalg.matrix_power(adj + np.eye(num_node), d) for d in range(max_hop + 1)]
    reach = np.stack(powers) > 0
    for d in range(max_hop, -1, -1):
        hop[reach[d]] = d
    return hop


def k_hop_adjacency(layout: Layout, k: int) -> np.ndarray:
    """MS-G3D's k-hop matrices: min((A+I)^k,1) - min((A+I)^(k-1),1) + I, k >= 1; I for k = 0."""
    v = layout.num_node
    eye = np.eye(v)
    if k == 0:
        return eye
    a = _edge_matrix(layout.inward, v) + _edge_matrix(layout.outward, v)
    ak = np.minimum(np.linalg.matrix_power(a + eye, k), 1)
    ak1 = np.minimum(np.linalg.matrix_power(a + eye, k - 1), 1)
    return ak - ak1 + eye


def build_adjacency(layout: Layout, mode: str) -> np.ndarray:
    """Adjacency stacks of docs/datasets.md: ``spatial`` (3,V,V), ``binary_adj`` (1,V,V),
    ``stgcn_spatial`` (3,V,V)."""
    v = layout.num_node
    if mode == "spatial":
        return np.stack([np.eye(v), normalize_digraph(_edge_matrix(layout.inward, v)),
                         normalize_digraph(_edge_matrix(layout.outward, v))]).astype(np.float32)
    if mode == "binary_adj":
        return (_edge_matrix(layout.inward, v) + _edge_matrix(layout.outward, v))[None].astype(np.float32)
    if mode == "stgcn_spatial":
        edges = list(layout.inward)
        hop = hop_distance(v, edges, max_hop=1)
        adjacency = (hop <= 1).astype(np.float64)
        norm = normalize_digraph(adjacency)
        root = np.zeros((v, v)); close = np.zeros((v, v)); further = np.zeros((v, v))
        for i in range(v):
            for j in range(v):
                if hop[j, i] == 0:
                    root[j, i] = norm[j, i]
                elif hop[j, i] == 1:
                    if hop[j, layout.center] >= hop[i, layout.center]:
                        close[j, i] = norm[j, i]
                    else:
                        further[j, i] = norm[j, i]
        return np.stack([root, close, further]).astype(np.float32)
    raise LayoutError(f"unknown adjacency mode '{mode}'; available: spatial, binary_adj, stgcn_spatial")


def derive_skip_pairs(bone_pairs: Sequence[Pair], root: int, num_node: int) -> Tuple[Pair, ...]:
    """Skip (grandparent) pairs: re-root the bone tree at ``root``; k_v = j_v - j_parent(parent(v)),
    with a zero (self) pair for the root and its children (docs/methods.md)."""
    neighbours: Dict[int, List[int]] = {v: [] for v in range(num_node)}
    for v, u in bone_pairs:
        if v != u:
            neighbours[v].append(u)
            neighbours[u].append(v)
    parent = {root: root}
    queue = [root]
    while queue:
        node = queue.pop(0)
        for nb in sorted(neighbours[node]):
            if nb not in parent:
                parent[nb] = node
                queue.append(nb)
    pairs = []
    for v in range(num_node):
        if v not in parent:
            raise LayoutError(f"joint {v} is not connected to the bone tree rooted at {root}")
        p = parent[v]
        if v == root or p == root:
            pairs.append((v, v))
        else:
            pairs.append((v, parent[p]))
    return tuple(pairs)


def validate_layout(layout: Layout) -> None:
    """Indices in range, every joint covered, flip an involution, upper/lower a partition."""
    v = layout.num_node
    where = f"layout '{layout.name}'"

    def check_index(i: int, what: str) -> None:
        if not (0 <= int(i) < v):
            raise LayoutError(f"{where}: {what} index {i} out of range 0..{v - 1}")

    check_index(layout.center, "center")
    for i, j in list(layout.inward) + list(layout.bone_pairs):
        check_index(i, "edge"); check_index(j, "edge")
    if len(layout.bone_pairs) != v or sorted(p[0] for p in layout.bone_pairs) != list(range(v)):
        raise LayoutError(f"{where}: bone_pairs must name every joint exactly once as the child")
    touched = {i for e in layout.inward for i in e} | {layout.center}
    if touched != set(range(v)):
        raise LayoutError(f"{where}: joints {sorted(set(range(v)) - touched)} are in no edge")
    if sorted(layout.flip) != list(range(v)):
        raise LayoutError(f"{where}: flip must be a permutation of 0..{v - 1}")
    if any(layout.flip[layout.flip[i]] != i for i in range(v)):
        raise LayoutError(f"{where}: flip permutation is not an involution (left/right swapped twice "
                          "must give the identity)")
    up, low = set(layout.upper), set(layout.lower)
    if up & low or (up | low) != set(range(v)):
        raise LayoutError(f"{where}: upper and lower must be disjoint and cover all {v} joints")
    for name, pair in (("spine", layout.spine), ("shoulders", layout.shoulders)):
        if pair is not None:
            check_index(pair[0], name); check_index(pair[1], name)
    if layout.joint_names and len(layout.joint_names) != v:
        raise LayoutError(f"{where}: {len(layout.joint_names)} joint names for {v} joints")


def _pairs(text: str) -> Tuple[Pair, ...]:
    """Parse '(0,1) (1,20) …' as written in the spec tables."""
    out = []
    for chunk in text.replace(")", ") ").split():
        chunk = chunk.strip("() ")
        if chunk:
            a, b = chunk.split(",")
            out.append((int(a), int(b)))
    return tuple(out)


# --------------------------------------------------------------------------- the four layouts
# NTU-25 (Kinect v2). The graph attaches hand tip and thumb both to the hand (21->7, 22->7, ...)
# while the bone pairs chain tip -> thumb -> hand (21->22->7): a deliberate inconsistency inherited
# from pyskl; pyskl-trained numbers depend on both, so both are kept as listed (docs/datasets.md).
NTU25 = Layout(
    name="ntu25", num_node=25, center=20,
    inward=_pairs("(0,1) (1,20) (2,20) (3,2) (4,20) (5,4) (6,5) (7,6) (8,20) (9,8) (10,9) (11,10) (12,0) "
                  "(13,12) (14,13) (15,14) (16,0) (17,16) (18,17) (19,18) (21,7) (22,7) (23,11) (24,11)"),
    bone_pairs=_pairs("(0,1) (1,20) (2,20) (3,2) (4,20) (5,4) (6,5) (7,6) (8,20) (9,8) (10,9) (11,10) (12,0) "
                      "(13,12) (14,13) (15,14) (16,0) (17,16) (18,17) (19,18) (20,20) (21,22) (22,7) (23,24) "
                      "(24,11)"),
    flip=(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22),
    upper=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 24),
    lower=(0, 12, 13, 14, 15, 16, 17, 18, 19),
    spine=(0, 1), shoulders=(4, 8), norm_center=1,
    joint_names=("SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
                 "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft",
                 "KneeLeft", "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight",
                 "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight"),
)

NW_UCLA20 = Layout(
    name="nw_ucla20", num_node=20, center=2,
    inward=_pairs("(0,1) (1,2) (3,2) (4,2) (5,4) (6,5) (7,6) (8,2) (9,8) (10,9) (11,10) (12,0) (13,12) "
                  "(14,13) (15,14) (16,0) (17,16) (18,17) (19,18)"),
    bone_pairs=_pairs("(0,1) (1,2) (2,2) (3,2) (4,2) (5,4) (6,5) (7,6) (8,2) (9,8) (10,9) (11,10) (12,0) "
                      "(13,12) (14,13) (15,14) (16,0) (17,16) (18,17) (19,18)"),
    flip=(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15),
    upper=tuple(range(1, 12)), lower=(0,) + tuple(range(12, 20)),
    spine=(0, 1), shoulders=(4, 8), norm_center=1,
    joint_names=("HipCenter", "Spine", "ShoulderCenter", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
                 "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft",
                 "KneeLeft", "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight"),
)

COCO17 = Layout(
    name="coco17", num_node=17, center=0,
    inward=_pairs("(15,13) (13,11) (16,14) (14,12) (11,5) (12,6) (9,7) (7,5) (10,8) (8,6) (5,0) (6,0) "
                  "(1,0) (3,1) (2,0) (4,2)"),
    # In the bone tree the hips hang from the nose, in the graph from the shoulders (pyskl).
    bone_pairs=_pairs("(0,0) (1,0) (2,0) (3,1) (4,2) (5,0) (6,0) (7,5) (8,6) (9,7) (10,8) (11,0) (12,0) "
                      "(13,11) (14,12) (15,13) (16,14)"),
    flip=(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15),
    upper=tuple(range(0, 11)), lower=tuple(range(11, 17)),
    joint_names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                 "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
                 "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
)

# OpenPose-18: the bone tree is rooted at the nose (0) but skip pairs use the tree re-rooted at
# the neck (1), the graph centre (docs/datasets.md).
OPENPOSE18 = Layout(
    name="openpose18", num_node=18, center=1,
    inward=_pairs("(4,3) (3,2) (7,6) (6,5) (13,12) (12,11) (10,9) (9,8) (11,5) (8,2) (5,1) (2,1) (0,1) "
                  "(15,0) (14,0) (17,15) (16,14)"),
    bone_pairs=_pairs("(0,0) (1,0) (2,1) (3,2) (4,3) (5,1) (6,5) (7,6) (8,2) (9,8) (10,9) (11,5) (12,11) "
                      "(13,12) (14,0) (15,0) (16,14) (17,15)"),
    flip=(0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16),
    upper=(0, 1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17), lower=(8, 9, 10, 11, 12, 13),
    joint_names=("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
                 "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
                 "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear"),
)

LAYOUTS: Dict[str, Layout] = {l.name: l for l in (NTU25, NW_UCLA20, COCO17, OPENPOSE18)}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise LayoutError(f"unknown layout '{name}'; available: {', '.join(sorted(LAYOUTS))}, "
                          "or declare a custom one (see docs on the generic format)") from None


def layout_from_dict(spec: dict) -> Layout:
    """A user-declared layout (docs/datasets.md), e.g. from a generic dataset's config."""
    v = int(spec["num_node"])
    inward = tuple(tuple(p) for p in spec["inward"])
    center = int(spec["center"])
    bones = spec.get("bone_parent")
    if bones is None:
        parent = {c: p for c, p in inward}
        bones = [(i, parent.get(i, i)) for i in range(v)]
    flip = list(range(v))
    for a, b in spec.get("flip", []):
        flip[a], flip[b] = b, a
    upper = tuple(spec.get("upper", range(v)))
    lower = tuple(spec.get("lower", [i for i in range(v) if i not in set(upper)]))
    return Layout(name=str(spec.get("name", "custom")), num_node=v, center=center, inward=inward,
                  bone_pairs=tuple(tuple(p) for p in bones), flip=tuple(flip), upper=upper, lower=lower,
                  spine=tuple(spec["spine"]) if spec.get("spine") else None,
                  shoulders=tuple(spec["shoulders"]) if spec.get("shoulders") else None,
                  norm_center=spec.get("norm_center"),
                  joint_names=tuple(spec.get("joint_names", ())))
