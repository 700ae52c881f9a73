"""The embedded default dataset: procedurally generated skeleton actions on the NTU-25 layout.

Why it exists: the demo workflow and the tests must run without downloading anything, yet the
task has to behave like a real skeleton benchmark — confusable classes, subject / view / speed
variation, two-person interactions — so that a long-tailed training set visibly hurts the tail.

How a sample is made (all steps vectorised over the samples of one class):

1. **Subject.** A pool of subjects, each with a global scale (height ≈ 1.5–1.9 m) and per-segment
   factors (trunk, arms, legs, shoulder / hip width). The cross-subject split uses disjoint pools
   for train and test, like NTU's xsub.
2. **Motion.** Every class is a combination of shared motion *primitives* (arm raise / wave /
   reach, squat, bend, step, march, kick, turn, jump, twist …) written as joint-angle tracks of the
   action phase u ∈ [0, 1]. Classes that share primitives differ only in limb, combination or
   timing (e.g. ``wave_right`` / ``wave_left``, ``handshake`` / ``give_object``, ``squat`` /
   ``squat_reach`` / ``bend_pickup``), which makes them confusable. Per sample the action gets a
   random amplitude, speed (duration inside the clip, number of repetitions), start phase, a
   static posture offset and slow idle sway on every joint angle (scaled by ``style``, the main
   difficulty knob), and with probability ``distractor_prob`` an unrelated extra gesture (an arm
   raised, a glance, a weight shift, a lean) borrowed from the same primitives.
3. **Kinematics.** Forward kinematics on the NTU-25 bone tree (``NTU25.bone_pairs``, re-rooted at
   SpineBase) with a rigid rest-pose offset per bone, so bone lengths are exactly constant within a
   sample (before sensor noise) and differ between subjects. Each rotation is attached to a bone
   and turns that bone and its subtree about the parent joint. The feet are kept on the floor.
4. **Scene and camera.** Persons are placed in the scene (two-person classes face each other about
   1 m apart), then the scene is seen from a camera with random yaw (±45° by default, NTU's three
   views), small pitch, distance ≈ 2.5–3.5 m, in Kinect-like camera space: metres, x to the
   person's right when facing the camera, y up, z away from the camera. The floor lies ≈ 1 m below
   the camera, so the pelvis is near y = 0 as in NTU. ``PreNormalize3D`` therefore applies as is.
5. **Sensor noise.** Per-sample Gaussian jitter (std ≈ ``noise`` metres) on every joint.

Sequence lengths are drawn uniformly in [min_frames, max_frames] independently of the class, so
length carries no class information. Single-person classes sometimes contain an idle bystander
as a second person (probability ``bystander_prob``), so the person count is not a perfect cue.

Sample names follow NTU's pattern ``S001CcccPpppRrrrAaaa``: C = camera view bucket (001: yaw <
−15°, 002: |yaw| ≤ 15°, 003: yaw > 15°), P = 1-based subject id, R = 1-based repetition counter
of that (camera, subject, action) triple, A = 1-based class index, so ``label = int(name[-3:]) - 1``.
The table is sorted by name (as pyskl's converter sorts NTU).

Determinism: one ``numpy.random.default_rng(seed)`` draws everything in a fixed order, so a seed
gives identical arrays run after run (across platforms only up to the last bit of sin/cos).

Difficulty (``python -m benchmark.data.synthetic_check``, defaults, seeds 0/1/2; a small temporal
CNN on CPU): balanced training ≈ 85–88 % top-1 (chance 5 %); long-tailed training (n_max = 100,
ratio 10) ≈ 91–93 % on the head third vs ≈ 35–37 % on the tail third.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from benchmark.data.readers import RawDataset, register_reader
from benchmark.graphs import NTU25

GENERATOR_VERSION = "2"     # 2: the ``classes`` option (pick classes by name, head first)
DEG = np.float32(np.pi / 180.0)
FLOOR_Y = -1.0          # floor height in camera space (Kinect mounted ≈ 1 m above the floor)


# ============================================================================ configuration

@dataclass(frozen=True)
class SyntheticConfig:
    """All knobs of the generator (the reader forwards dataset-config options here)."""

    num_classes: int = 20
    train_per_class: int = 100
    test_per_class: int = 30
    seed: int = 0
    min_frames: int = 40
    max_frames: int = 150
    #: sensor noise std in metres (each sample draws its own std in [0.5, 1.5] × noise)
    noise: float = 0.01
    #: scale of the class-independent variation (posture offsets, idle sway, off-axis motion)
    style: float = 1.0
    num_subjects: int = 40
    #: share of the subjects used for training (the rest are test subjects: cross-subject split)
    train_subject_share: float = 0.6
    max_camera_yaw_deg: float = 45.0
    bystander_prob: float = 0.1
    #: probability of a class-independent extra gesture in a sample (see ``_distract``)
    distractor_prob: float = 0.3
    #: the classes by name, head first (default: the first ``num_classes`` of :data:`CLASSES`)
    classes: Optional[Tuple[str, ...]] = None

    def class_specs(self) -> Tuple["ClassSpec", ...]:
        """The generated classes in label order (label 0 = the head of a long-tailed profile)."""
        if self.classes is None:
            return CLASSES[: self.num_classes]
        by_name = {c.name: c for c in CLASSES}
        return tuple(by_name[n] for n in self.classes)

    def validate(self) -> None:
        if self.classes is not None:
            unknown = [n for n in self.classes if n not in CLASS_NAMES]
            if unknown:
                raise ValueError(f"synthetic: unknown class(es) {unknown}; available: {list(CLASS_NAMES)}")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError(f"synthetic: classes {list(self.classes)} name a class twice")
            if len(self.classes) != self.num_classes:
                raise ValueError(f"synthetic: num_classes={self.num_classes} but {len(self.classes)} classes are "
                                 "named; give num_classes equal to the length of 'classes'")
        if not 2 <= self.num_classes <= len(CLASSES):
            raise ValueError(f"synthetic: num_classes={self.num_classes} must lie in 2..{len(CLASSES)} "
                             f"(the generator defines {len(CLASSES)} classes)")
        if self.train_per_class < 1 or self.test_per_class < 0:
            raise ValueError(f"synthetic: train_per_class={self.train_per_class} must be >= 1 and "
                             f"test_per_class={self.test_per_class} >= 0")
        if not 2 <= self.min_frames <= self.max_frames:
            raise ValueError(f"synthetic: need 2 <= min_frames <= max_frames, got min_frames={self.min_frames}, "
                             f"max_frames={self.max_frames}")
        if self.noise < 0 or self.style < 0:
            raise ValueError(f"synthetic: noise ({self.noise}) and style ({self.style}) must be >= 0")
        n_train = int(round(self.num_subjects * self.train_subject_share))
        if self.num_subjects < 2 or not 1 <= n_train < self.num_subjects:
            raise ValueError(f"synthetic: num_subjects={self.num_subjects} with train_subject_share="
                             f"{self.train_subject_share} leaves no train or no test subject")
        for name in ("bystander_prob", "distractor_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"synthetic: {name}={getattr(self, name)} must lie in [0, 1]")


# ============================================================================ skeleton

#: rest pose of a 1.75 m person in the body frame (metres): x = person's right, y = up,
#: z = backwards (the person faces −z), origin at SpineBase. Joint order = NTU25.joint_names.
_REST = np.array([
    [0.00, 0.00, 0.00],    # 0 SpineBase
    [0.00, 0.27, 0.01],    # 1 SpineMid
    [0.00, 0.58, 0.00],    # 2 Neck
    [0.00, 0.72, -0.01],   # 3 Head
    [-0.17, 0.49, 0.00],   # 4 ShoulderLeft
    [-0.20, 0.21, 0.01],   # 5 ElbowLeft
    [-0.21, -0.04, 0.00],  # 6 WristLeft
    [-0.21, -0.11, 0.00],  # 7 HandLeft
    [0.17, 0.49, 0.00],    # 8 ShoulderRight
    [0.20, 0.21, 0.01],    # 9 ElbowRight
    [0.21, -0.04, 0.00],   # 10 WristRight
    [0.21, -0.11, 0.00],   # 11 HandRight
    [-0.08, -0.03, 0.00],  # 12 HipLeft
    [-0.09, -0.46, 0.00],  # 13 KneeLeft
    [-0.09, -0.86, 0.02],  # 14 AnkleLeft
    [-0.10, -0.91, -0.09],  # 15 FootLeft
    [0.08, -0.03, 0.00],   # 16 HipRight
    [0.09, -0.46, 0.00],   # 17 KneeRight
    [0.09, -0.86, 0.02],   # 18 AnkleRight
    [0.10, -0.91, -0.09],  # 19 FootRight
    [0.00, 0.50, 0.00],    # 20 SpineShoulder
    [-0.21, -0.18, 0.00],  # 21 HandTipLeft
    [-0.18, -0.10, -0.03],  # 22 ThumbLeft
    [0.21, -0.18, 0.00],   # 23 HandTipRight
    [0.18, -0.10, -0.03],  # 24 ThumbRight
])

#: which subject scale factor applies to the bone ending at each joint
#: (0 trunk/head, 1 upper arm, 2 forearm/hand, 3 thigh, 4 shin/foot, 5 shoulder width, 6 hip width)
_SEGMENT = np.array([0, 0, 0, 0, 5, 1, 2, 2, 5, 1, 2, 2, 6, 3, 4, 4, 6, 3, 4, 4, 0, 2, 2, 2, 2])
_FEET = [14, 15, 18, 19]


def _kinematic_tree(root: int = 0) -> Tuple[np.ndarray, List[int]]:
    """Parent array and topological order of ``NTU25.bone_pairs`` re-rooted at ``root``.

    The layout stores the tree rooted at SpineShoulder (20); for kinematics the pelvis is the
    natural root. The self pair (20, 20) is skipped."""
    nbrs: Dict[int, List[int]] = {v: [] for v in range(NTU25.num_node)}
    for c, p in NTU25.bone_pairs:
        if c != p:
            nbrs[c].append(p)
            nbrs[p].append(c)
    parent = np.full(NTU25.num_node, -1)
    parent[root] = root
    order = [root]
    for v in order:                      # BFS: the list grows while we walk it
        for u in nbrs[v]:
            if parent[u] < 0:
                parent[u] = v
                order.append(u)
    if len(order) != NTU25.num_node:
        raise RuntimeError("NTU25.bone_pairs is not a spanning tree")
    return parent, order


PARENT, TOPO = _kinematic_tree()
_OFFSET = _REST - _REST[PARENT]          # rest-pose bone vectors (zero for the root)
#: body-frame mirror x -> -x turns a right-limb rotation into the left one: M·R·M flips the sign
#: of the entries that mix x with y or z
_MIRROR_SIGN = np.array([[1.0, -1.0, -1.0], [-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]], dtype=np.float32)

# Rotation matrices and vectors are stored components-first ((3, 3, ...) and (3, ...)) so that
# every step is an element-wise operation on contiguous (n, T) arrays: reductions or einsum over
# tiny trailing axes are an order of magnitude slower for the ~10^5 matrices per class.


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (3, 3, ...) about a body axis by ``angle`` radians (right-hand rule)."""
    angle = np.asarray(angle)
    c, s = np.cos(angle), np.sin(angle)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    k = 3 - i - j
    m = np.zeros((3, 3) + angle.shape, dtype=c.dtype)
    m[k, k] = 1.0
    m[i, i] = c
    m[j, j] = c
    m[i, j] = -s
    m[j, i] = s
    return m


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matrix product of components-first 3×3 matrices."""
    return a[:, 0, None] * b[None, 0] + a[:, 1, None] * b[None, 1] + a[:, 2, None] * b[None, 2]


def _mv(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched matrix × vector, components first: a (3, 3, ...), v (3, ...)."""
    return a[:, 0] * v[0] + a[:, 1] * v[1] + a[:, 2] * v[2]


def _mirror(m: np.ndarray) -> np.ndarray:
    return m * _MIRROR_SIGN.reshape((3, 3) + (1,) * (m.ndim - 2))


# ============================================================================ pose tracks

#: joint-angle tracks of one person (degrees unless noted). Arm/leg DOFs are written for the
#: right side; the left side uses the same convention mirrored (positive = the same motion).
DOFS = (
    "trunk_flex", "trunk_lat", "trunk_twist", "neck_flex", "neck_turn",
    "r_elev", "r_az", "r_rot", "r_elbow", "r_wrist",
    "l_elev", "l_az", "l_rot", "l_elbow", "l_wrist",
    "r_hip_flex", "r_hip_abd", "r_knee", "l_hip_flex", "l_hip_abd", "l_knee",
    "root_yaw",                           # body turn about the vertical (degrees)
    "root_fwd", "root_side", "root_up",   # body translation in the initial body frame (metres)
)
Pose = Dict[str, np.ndarray]


def _new_pose(n: int, t: int) -> Pose:
    return {k: np.zeros((n, t)) for k in DOFS}


def _bone_rotations(pose: Pose) -> Dict[int, np.ndarray]:
    """Local rotation of each moving bone (key = the bone's child joint) from the angle tracks.

    Arms use a swing parameterisation (elevation from hanging, 0..180°, then azimuth from the
    lateral plane towards the front, then twist about the arm) to avoid the gimbal lock of
    flexion/abduction Euler angles at the horizontal."""
    r: Dict[int, np.ndarray] = {}
    r[1] = _mm(_mm(_rot("y", pose["trunk_twist"] * DEG), _rot("z", -pose["trunk_lat"] * DEG)),
               _rot("x", -pose["trunk_flex"] * DEG))
    r[2] = _mm(_rot("y", pose["neck_turn"] * DEG), _rot("x", -pose["neck_flex"] * DEG))
    for side, elbow_child, upper_child, wrist_child in (("r", 10, 9, 11), ("l", 6, 5, 7)):
        upper = _mm(_mm(_rot("y", pose[f"{side}_az"] * DEG), _rot("z", pose[f"{side}_elev"] * DEG)),
                    _rot("y", -pose[f"{side}_rot"] * DEG))
        fore = _rot("x", pose[f"{side}_elbow"] * DEG)
        hand = _rot("x", pose[f"{side}_wrist"] * DEG)
        if side == "l":
            upper, fore, hand = _mirror(upper), _mirror(fore), _mirror(hand)
        r[upper_child], r[elbow_child], r[wrist_child] = upper, fore, hand
    for side, thigh_child, shin_child in (("r", 17, 18), ("l", 13, 14)):
        thigh = _mm(_rot("z", pose[f"{side}_hip_abd"] * DEG), _rot("x", pose[f"{side}_hip_flex"] * DEG))
        shin = _rot("x", -pose[f"{side}_knee"] * DEG)
        if side == "l":
            thigh, shin = _mirror(thigh), _mirror(shin)
        r[thigh_child], r[shin_child] = thigh, shin
    return r


def forward_kinematics(pose: Pose, bone_scale: np.ndarray) -> np.ndarray:
    """Joint positions, components first (3, n, T, 25), in the person's initial body frame with
    the feet on the floor (y = 0).

    ``bone_scale`` (n, 25) multiplies each rest bone vector, so every bone keeps its length over
    time: p_j = p_parent(j) + R_j · (s_j · o_j) with R_j = R_parent(j) · L_j (L_j = local rotation of
    bone j, identity for rigid bones)."""
    # float32 is plenty for millimetres and halves the memory traffic of this hot loop
    pose = {k: v.astype(np.float32) for k, v in pose.items()}
    n, t = pose["trunk_flex"].shape
    local = _bone_rotations(pose)
    glob: Dict[int, np.ndarray] = {0: _rot("y", pose["root_yaw"] * DEG)}
    offs = (bone_scale[:, :, None] * _OFFSET[None]).transpose(2, 0, 1)[:, :, None, :]   # (3, n, 1, V)
    offs = offs.astype(np.float32)
    joints: Dict[int, np.ndarray] = {0: np.zeros((3, n, t), dtype=np.float32)}
    for j in TOPO[1:]:
        p = PARENT[j]
        glob[j] = _mm(glob[p], local[j]) if j in local else glob[p]
        joints[j] = joints[p] + _mv(glob[j], offs[..., j])
    pos = np.stack([joints[j] for j in range(NTU25.num_node)], axis=-1)
    # Keep the lowest foot joint on the floor (squats lower the pelvis, steps lift one foot).
    pos[1] -= pos[1][..., _FEET].min(axis=-1, keepdims=True)
    pos[0] += pose["root_side"][..., None]
    pos[1] += pose["root_up"][..., None]
    pos[2] -= pose["root_fwd"][..., None]                               # forward is −z
    return pos


# ============================================================================ primitives
# Envelopes and primitives take the action phase u (n, T) in [0, 1] (0 before the action starts,
# 1 after it ends) and per-sample parameters (n, 1); they add to a person's pose tracks.

def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def hold(u: np.ndarray, rise: float | np.ndarray = 0.25, fall: float | np.ndarray = 0.25) -> np.ndarray:
    """0 → 1 over the first ``rise`` of the action, 1, then 1 → 0 over the last ``fall``."""
    return smoothstep(u / rise) * smoothstep((1.0 - u) / fall)


def bump(u: np.ndarray, a: float | np.ndarray = 0.0, b: float | np.ndarray = 1.0) -> np.ndarray:
    """A single smooth 0 → 1 → 0 pulse over [a, b] (sin² shape)."""
    x = np.clip((u - a) / (b - a), 0.0, 1.0)
    return np.sin(np.pi * x) ** 2


def osc(u: np.ndarray, cycles: np.ndarray, phase: np.ndarray | float = 0.0) -> np.ndarray:
    return np.sin(2.0 * np.pi * cycles * u + phase)


@dataclass
class Ctx:
    """What a class's motion function sees: phases, per-sample amplitude and the random source."""

    u: np.ndarray            # (n, T) action phase
    amp: np.ndarray          # (n, 1) amplitude factor
    rng: np.random.Generator

    def uni(self, lo: float, hi: float) -> np.ndarray:
        return self.rng.uniform(lo, hi, size=(self.u.shape[0], 1))


def arm_pose(p: Pose, side: str, env: np.ndarray, elev, az, elbow, rot=0.0) -> None:
    p[f"{side}_elev"] += env * elev
    p[f"{side}_az"] += env * az
    p[f"{side}_elbow"] += env * elbow
    p[f"{side}_rot"] += env * rot


def wave(p: Pose, side: str, c: Ctx, env: np.ndarray) -> None:
    """Raise the arm to the side/up with the forearm up and swing the forearm side to side."""
    arm_pose(p, side, env, c.uni(100, 150) * c.amp, c.uni(0, 35), c.uni(40, 80), 90.0)
    cyc = c.uni(2.0, 4.5)
    p[f"{side}_elbow"] += env * c.uni(15, 30) * c.amp * osc(c.u, cyc)
    p[f"{side}_az"] += env * c.uni(5, 15) * osc(c.u, cyc, 0.5 * np.pi)


def reach(p: Pose, side: str, c: Ctx, env: np.ndarray, elev=(75, 105), az=(70, 95)) -> None:
    """Extend the arm towards a target: upper arm to the target direction, elbow straightens."""
    arm_pose(p, side, env, c.uni(*elev) * c.amp, c.uni(*az), 0.0)
    p[f"{side}_elbow"] += c.uni(50, 80) * bump(c.u, 0.0, 0.45) * (1 - env) + env * c.uni(0, 15)


def squat(p: Pose, c: Ctx, env: np.ndarray, depth=(55, 85)) -> None:
    d = c.uni(*depth) * c.amp
    for s in "rl":
        p[f"{s}_hip_flex"] += env * d
        p[f"{s}_knee"] += env * 1.7 * d
    p["trunk_flex"] += env * 0.45 * d


def bend(p: Pose, c: Ctx, env: np.ndarray, angle=(55, 85)) -> None:
    p["trunk_flex"] += env * c.uni(*angle) * c.amp
    p["neck_flex"] += env * c.uni(5, 20)


def step(p: Pose, side: str, c: Ctx, env_out: np.ndarray, fwd: float, sideways: float) -> None:
    """Lift one leg and move the body ``fwd``/``sideways`` metres (and back with ``env_out``)."""
    lift = bump(c.u, 0.05, 0.4) + bump(c.u, 0.6, 0.95)
    p[f"{side}_hip_flex"] += lift * c.uni(20, 40) * c.amp * (1.0 if fwd else 0.5)
    p[f"{side}_knee"] += lift * c.uni(30, 55) * c.amp
    if sideways:
        p[f"{side}_hip_abd"] += lift * c.uni(15, 30)
    dist = c.uni(0.25, 0.45) * c.amp
    p["root_fwd"] += env_out * dist * fwd
    p["root_side"] += env_out * dist * sideways


def march(p: Pose, c: Ctx, env: np.ndarray, cycles=(2.0, 4.0), lift=(30, 55)) -> np.ndarray:
    cyc = c.uni(*cycles)
    ph = 2 * np.pi * cyc * c.u
    a = c.uni(*lift) * c.amp
    up_r, up_l = np.clip(np.sin(ph), 0, None), np.clip(-np.sin(ph), 0, None)
    p["r_hip_flex"] += env * a * up_r
    p["r_knee"] += env * 1.5 * a * up_r
    p["l_hip_flex"] += env * a * up_l
    p["l_knee"] += env * 1.5 * a * up_l
    # counter-swing of the arms
    p["r_elev"] += env * 0.3 * a * (up_l - up_r)
    p["l_elev"] += env * 0.3 * a * (up_r - up_l)
    p["r_az"] += env * 80.0
    p["l_az"] += env * 80.0
    return cyc


def kick(p: Pose, side: str, c: Ctx) -> None:
    t0 = c.uni(0.25, 0.45)
    wind = bump(c.u, t0 - 0.2, t0 + 0.05)
    strike = bump(c.u, t0, t0 + c.uni(0.25, 0.4))
    p[f"{side}_hip_flex"] += strike * c.uni(55, 85) * c.amp - wind * c.uni(5, 15)
    p[f"{side}_knee"] += wind * c.uni(50, 80) + strike * c.uni(0, 15)
    p["trunk_flex"] -= strike * c.uni(5, 12)


# ============================================================================ classes

def _cls_wave(side: str):
    def f(c: Ctx, a: Pose, b: Pose) -> None:
        wave(a, side, c, hold(c.u, 0.15, 0.15))
    return f


def _cls_wave_both(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.15, 0.15)
    wave(a, "r", c, env)
    wave(a, "l", c, env)


def _cls_reach_forward(c: Ctx, a: Pose, b: Pose) -> None:
    reach(a, "r", c, hold(c.u, c.uni(0.25, 0.4), c.uni(0.25, 0.4)))


def _cls_reach_up(c: Ctx, a: Pose, b: Pose) -> None:
    reach(a, "r", c, hold(c.u, 0.3, 0.3), elev=(135, 170), az=(40, 90))
    a["neck_flex"] -= hold(c.u, 0.3, 0.3) * c.uni(5, 20)


def _cls_point(c: Ctx, a: Pose, b: Pose) -> None:
    # like reach_forward but quicker out, long hold, arm a bit higher and more lateral
    reach(a, "r", c, hold(c.u, c.uni(0.08, 0.15), c.uni(0.08, 0.15)), elev=(80, 115), az=(35, 75))


def _cls_squat(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, c.uni(0.3, 0.45), c.uni(0.3, 0.45))
    squat(a, c, env)
    arm_pose(a, "r", env, c.uni(20, 70), 80.0, c.uni(0, 30))
    arm_pose(a, "l", env, c.uni(20, 70), 80.0, c.uni(0, 30))


def _cls_squat_reach(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.3, 0.3)
    squat(a, c, env, depth=(50, 80))
    reach(a, "r", c, bump(c.u, 0.2, 0.8), elev=(40, 70), az=(75, 95))


def _cls_bend_pickup(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.35, 0.35)
    bend(a, c, env)
    for s in "rl":
        a[f"{s}_knee"] += env * c.uni(5, 25)
        a[f"{s}_hip_flex"] += env * c.uni(0, 10)
    reach(a, "r", c, bump(c.u, 0.25, 0.75), elev=(10, 35), az=(60, 90))


def _cls_step(fwd: float, sideways: float):
    def f(c: Ctx, a: Pose, b: Pose) -> None:
        step(a, "r", c, hold(c.u, 0.4, 0.4), fwd, sideways)
    return f


def _cls_march(c: Ctx, a: Pose, b: Pose) -> None:
    march(a, c, hold(c.u, 0.1, 0.1))


def _cls_kick(side: str):
    def f(c: Ctx, a: Pose, b: Pose) -> None:
        kick(a, side, c)
    return f


def _cls_turn_around(c: Ctx, a: Pose, b: Pose) -> None:
    ramp = smoothstep((c.u - 0.1) / 0.8)
    a["root_yaw"] += ramp * c.uni(140, 200) * np.sign(c.uni(-1, 1))
    march(a, c, bump(c.u, 0.05, 0.95), cycles=(1.5, 3.0), lift=(10, 25))


def _cls_turn_reach(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.3, 0.3)
    a["trunk_twist"] -= env * c.uni(30, 60) * c.amp
    reach(a, "r", c, env, elev=(70, 100), az=(0, 30))


def _cls_clap(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.2, 0.2)
    cyc = c.uni(2.5, 5.0)
    open_ = 0.5 + 0.5 * osc(c.u, cyc)
    for s in "rl":
        arm_pose(a, s, env, c.uni(45, 75) * c.amp, 75.0 + 30.0 * open_ - 20.0, c.uni(40, 70))
        a[f"{s}_az"] -= env * 15 * open_


def _cls_hand_to_head(elev: Tuple[float, float], az: Tuple[float, float], elbow: Tuple[float, float],
                      rot: Tuple[float, float], ramp: Tuple[float, float]):
    """phone_call (hand to the ear, slow) and salute (hand to the brow with the elbow out to the
    side, crisp): the same primitive with another target and timing."""
    def f(c: Ctx, a: Pose, b: Pose) -> None:
        env = hold(c.u, c.uni(*ramp), c.uni(*ramp))
        arm_pose(a, "r", env, c.uni(*elev) * c.amp, c.uni(*az), c.uni(*elbow), c.uni(*rot))
        a["neck_turn"] += env * c.uni(-10, 10)
    return f


def _cls_jump(c: Ctx, a: Pose, b: Pose) -> None:
    crouch = bump(c.u, 0.15, 0.5) + 0.6 * bump(c.u, 0.6, 0.9)
    squat(a, c, crouch, depth=(25, 45))
    air = bump(c.u, 0.42, 0.68)
    a["root_up"] += air * c.uni(0.1, 0.3) * c.amp
    for s in "rl":
        arm_pose(a, s, bump(c.u, 0.3, 0.7), c.uni(40, 110), 80.0, c.uni(0, 30))


def _cls_side_stretch(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.25, 0.25)
    arm_pose(a, "r", env, c.uni(150, 175), c.uni(0, 40), c.uni(0, 30))
    arm_pose(a, "l", env, c.uni(150, 175), c.uni(0, 40), c.uni(0, 30))
    a["trunk_lat"] += bump(c.u, 0.2, 0.8) * c.uni(15, 35) * c.amp * np.sign(c.uni(-1, 1))


def _cls_handshake(c: Ctx, a: Pose, b: Pose) -> None:
    env = hold(c.u, 0.3, 0.3)
    shake = env * osc(c.u, c.uni(2.0, 4.0)) * c.uni(5, 15)
    for p in (a, b):
        reach(p, "r", c, env, elev=(40, 70), az=(70, 90))
        p["r_elbow"] += env * c.uni(15, 35) + shake
        p["r_elev"] += shake


def _cls_give_object(c: Ctx, a: Pose, b: Pose) -> None:
    # the giver reaches first, the receiver follows and both withdraw: a timing difference only
    reach(a, "r", c, hold(c.u, 0.25, 0.35), elev=(45, 80), az=(70, 95))
    reach(b, "r", c, bump(c.u, 0.3, 0.95), elev=(45, 80), az=(70, 95))


def _cls_push(c: Ctx, a: Pose, b: Pose) -> None:
    t0 = c.uni(0.3, 0.5)
    hit = bump(c.u, t0 - 0.2, t0 + 0.2)
    for s in "rl":
        reach(a, s, c, hit, elev=(65, 95), az=(80, 95))
    a["trunk_flex"] += hit * c.uni(5, 15)
    back = smoothstep((c.u - t0) / 0.2)
    b["root_fwd"] -= back * c.uni(0.15, 0.4) * c.amp
    b["trunk_flex"] -= bump(c.u, t0, t0 + 0.3) * c.uni(5, 20)
    # the pushed person stumbles: a step in the second part of the action (the backwards motion
    # itself is the root_fwd above, so the step adds no translation)
    after = Ctx(u=np.clip((c.u - t0) / (1.0 - t0), 0.0, 1.0), amp=c.amp, rng=c.rng)
    step(b, "r", after, np.zeros_like(back), 1.0, 0.0)


def _cls_walk_towards(c: Ctx, a: Pose, b: Pose) -> None:
    ramp = smoothstep((c.u - 0.05) / 0.8)
    for p in (a, b):
        march(p, c, bump(c.u, 0.0, 0.9), cycles=(1.5, 3.0), lift=(10, 25))
        p["root_fwd"] += ramp * c.uni(0.2, 0.45)


@dataclass(frozen=True)
class ClassSpec:
    name: str
    persons: int
    motion: Callable[[Ctx, Pose, Pose], None]


#: Order matters for the long-tailed profile (class 0 is the head): confusable partners are spread
#: over the head and the tail so that a tail class competes with a well-trained head class.
CLASSES: Tuple[ClassSpec, ...] = (
    ClassSpec("wave_right", 1, _cls_wave("r")),
    ClassSpec("reach_forward", 1, _cls_reach_forward),
    ClassSpec("squat", 1, _cls_squat),
    ClassSpec("step_forward", 1, _cls_step(1.0, 0.0)),
    ClassSpec("clap", 1, _cls_clap),
    ClassSpec("bend_pickup", 1, _cls_bend_pickup),
    ClassSpec("handshake", 2, _cls_handshake),
    ClassSpec("turn_around", 1, _cls_turn_around),
    ClassSpec("kick_right", 1, _cls_kick("r")),
    ClassSpec("phone_call", 1, _cls_hand_to_head((55, 80), (30, 55), (130, 150), (70, 100), (0.2, 0.35))),
    ClassSpec("push", 2, _cls_push),
    ClassSpec("wave_left", 1, _cls_wave("l")),
    ClassSpec("squat_reach", 1, _cls_squat_reach),
    ClassSpec("step_side", 1, _cls_step(0.0, 1.0)),
    ClassSpec("reach_up", 1, _cls_reach_up),
    ClassSpec("give_object", 2, _cls_give_object),
    ClassSpec("jump", 1, _cls_jump),
    ClassSpec("march_in_place", 1, _cls_march),
    ClassSpec("wave_both", 1, _cls_wave_both),
    ClassSpec("salute", 1, _cls_hand_to_head((80, 100), (15, 35), (125, 140), (45, 75), (0.08, 0.18))),
    ClassSpec("point_forward", 1, _cls_point),
    ClassSpec("turn_reach", 1, _cls_turn_reach),
    ClassSpec("walk_towards", 2, _cls_walk_towards),
    ClassSpec("side_stretch", 1, _cls_side_stretch),
    ClassSpec("kick_left", 1, _cls_kick("l")),
)
CLASS_NAMES: Tuple[str, ...] = tuple(c.name for c in CLASSES)


# ============================================================================ sample assembly

def _subjects(cfg: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Per-subject bone scale (S, 25): global height × per-segment factors."""
    s = cfg.num_subjects
    height = rng.uniform(0.86, 1.1, size=(s, 1))
    seg = rng.normal(1.0, 0.06, size=(s, 7)).clip(0.85, 1.15)
    return height * seg[:, _SEGMENT]


def _idle(pose: Pose, n: int, tgrid: np.ndarray, style: float, rng: np.random.Generator) -> None:
    """Class-independent posture offsets and slow sway on every angle (the 'style' of a person)."""
    # std of the static offset in degrees at style = 1 (tuned with synthetic_check: this is the
    # main difficulty knob; the sway amplitude is up to half of it)
    spread = {"trunk_flex": 12, "trunk_lat": 6, "trunk_twist": 12, "neck_flex": 16, "neck_turn": 20,
              "r_elev": 20, "r_az": 50, "r_rot": 30, "r_elbow": 24, "r_wrist": 20,
              "l_elev": 20, "l_az": 50, "l_rot": 30, "l_elbow": 24, "l_wrist": 20,
              "r_hip_flex": 8, "r_hip_abd": 6, "r_knee": 8, "l_hip_flex": 8, "l_hip_abd": 6, "l_knee": 8,
              "root_yaw": 16}
    keys = list(spread)
    sd = np.array([spread[k] for k in keys])[None, :, None] * style     # (1, K, 1)
    k = len(keys)
    offset = rng.normal(0.0, 1.0, size=(n, k, 1)) * sd
    freq = rng.uniform(0.3, 1.5, size=(n, k, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, k, 1))
    sway = 0.5 * sd * rng.uniform(0, 1, size=(n, k, 1)) * np.sin(2 * np.pi * freq * tgrid[:, None, :] + phase)
    tracks = offset + sway
    # arms hang slightly away from the body and elbows are slightly bent at rest
    tracks[:, keys.index("r_elev")] = np.abs(tracks[:, keys.index("r_elev")]) + 5
    tracks[:, keys.index("l_elev")] = np.abs(tracks[:, keys.index("l_elev")]) + 5
    tracks[:, keys.index("r_elbow")] = np.abs(tracks[:, keys.index("r_elbow")]) + 5
    tracks[:, keys.index("l_elbow")] = np.abs(tracks[:, keys.index("l_elbow")]) + 5
    tracks[:, keys.index("r_knee")] = np.abs(tracks[:, keys.index("r_knee")])
    tracks[:, keys.index("l_knee")] = np.abs(tracks[:, keys.index("l_knee")])
    for i, key in enumerate(keys):
        pose[key] += tracks[:, i]


def _distract(pose: Pose, tgrid: np.ndarray, prob: float, rng: np.random.Generator) -> None:
    """Class-independent extra gestures: with probability ``prob`` a sample gets one of: an arm
    raised somewhere and lowered again (either arm), a glance / head turn, a weight shift (half a
    step) or a short forward lean — at a random time of the clip. They borrow the primitives of
    the classes, so a distracted sample looks a bit like another class (nuisance, not signal)."""
    n = tgrid.shape[0]
    on = rng.uniform(size=(n, 1)) < prob
    kind = rng.integers(0, 5, size=(n, 1))
    t0 = rng.uniform(0.0, 0.7, size=(n, 1))
    env = bump(tgrid, t0, t0 + rng.uniform(0.2, 0.45, size=(n, 1))) * on
    side_r = rng.uniform(size=(n, 1)) < 0.5
    elev, az = rng.uniform(30, 130, size=(n, 1)), rng.uniform(0, 90, size=(n, 1))
    elbow = rng.uniform(0, 110, size=(n, 1))
    for s, mask in (("r", side_r), ("l", ~side_r)):
        m = env * ((kind <= 1) & mask)
        pose[f"{s}_elev"] += m * elev
        pose[f"{s}_az"] += m * az
        pose[f"{s}_elbow"] += m * elbow
    pose["neck_turn"] += env * (kind == 2) * rng.uniform(-50, 50, size=(n, 1))
    pose["neck_flex"] += env * (kind == 2) * rng.uniform(-15, 25, size=(n, 1))
    leg = np.where(side_r, "r", "l")
    lift = env * (kind == 3) * rng.uniform(15, 35, size=(n, 1))
    for s in "rl":
        pose[f"{s}_hip_flex"] += lift * (leg == s)
        pose[f"{s}_knee"] += 1.5 * lift * (leg == s)
    pose["trunk_flex"] += env * (kind == 4) * rng.uniform(10, 35, size=(n, 1))


def _place(pos: np.ndarray, yaw: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Rotate a person (3, n, T, V) about the vertical by ``yaw`` (n,) rad and translate by (n, 3)."""
    return _mv(_rot("y", yaw)[..., None, None], pos) + shift.T[:, :, None, None]


def _generate_class(spec: ClassSpec, n: int, subj_ids: np.ndarray, bone_scale: np.ndarray,
                    cfg: SyntheticConfig, rng: np.random.Generator) -> Tuple[List[np.ndarray], np.ndarray]:
    """All samples of one class: returns (samples, each float32 (M_i, T_i, 25, 3); camera yaw in
    degrees (n,))."""
    tmax = cfg.max_frames
    lengths = rng.integers(cfg.min_frames, cfg.max_frames + 1, size=n)
    k = np.arange(tmax)[None, :]
    tgrid = np.minimum(k / np.maximum(lengths[:, None] - 1, 1), 1.0)     # clip time in [0, 1]
    start = rng.uniform(0.0, 0.25, size=(n, 1))
    dur = rng.uniform(0.6, 1.0, size=(n, 1)) * (1.0 - start)
    u = np.clip((tgrid - start) / dur, 0.0, 1.0)
    ctx = Ctx(u=u, amp=rng.uniform(0.75, 1.25, size=(n, 1)), rng=rng)

    pose_a, pose_b = _new_pose(n, tmax), _new_pose(n, tmax)
    spec.motion(ctx, pose_a, pose_b)
    _distract(pose_a, tgrid, cfg.distractor_prob, rng)
    _idle(pose_a, n, tgrid, cfg.style, rng)
    _idle(pose_b, n, tgrid, cfg.style, rng)   # a bystander only gets this idle sway

    if spec.persons == 2:
        two = np.ones(n, dtype=bool)
        gap = rng.uniform(0.9, 1.4, size=n)
        # A faces +x, B faces −x, so they face each other across the gap (the body faces −z at
        # yaw 0 and Ry(ψ)·(0, 0, −1) = (−sin ψ, 0, −cos ψ))
        yaw_a = np.full(n, -90.0) + rng.normal(0, 8, n)
        yaw_b = np.full(n, 90.0) + rng.normal(0, 8, n)
        shift_a = np.stack([-gap / 2, np.zeros(n), rng.normal(0, 0.1, n)], axis=1)
        shift_b = np.stack([gap / 2, np.zeros(n), rng.normal(0, 0.1, n)], axis=1)
    else:
        two = rng.uniform(size=n) < cfg.bystander_prob
        yaw_a = rng.normal(0, 10, n)
        yaw_b = rng.uniform(-180, 180, n)
        side = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
        shift_a = np.zeros((n, 3))
        shift_b = np.stack([side * rng.uniform(1.2, 2.0, n), np.zeros(n), rng.uniform(-0.5, 1.0, n)], axis=1)
    partner = rng.permutation(subj_ids)       # partner / bystander: another subject of the same split

    # camera: scene rotated by −yaw about the vertical through the scene centre, then pushed to
    # distance d in front of the camera; small pitch for a tilted sensor; floor ≈ 1 m below it
    cam_yaw = rng.uniform(-cfg.max_camera_yaw_deg, cfg.max_camera_yaw_deg, size=n)
    pitch = rng.normal(0.0, 3.0, size=n)
    cam_shift = np.stack([rng.normal(0.0, 0.2, size=n),                  # lateral offset
                          FLOOR_Y + rng.normal(0.0, 0.08, size=n),       # floor height
                          rng.uniform(2.5, 3.5, size=n)])                # distance
    rcam = _mm(_rot("x", pitch * DEG), _rot("y", -cam_yaw * DEG))
    sigma = cfg.noise * rng.uniform(0.5, 1.5, size=n)

    def to_camera(pose: Pose, idx: np.ndarray, scale: np.ndarray, yaw: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """FK, scene placement, camera view and sensor noise for the samples ``idx``: (n', T, V, 3)."""
        pos = forward_kinematics({key: v[idx] for key, v in pose.items()}, scale[idx])
        pos = _place(pos, yaw[idx] * DEG, shift[idx])
        pos = _mv(rcam[:, :, idx, None, None], pos) + cam_shift[:, idx, None, None]
        out = pos.transpose(1, 2, 3, 0).astype(np.float32)
        out += sigma[idx, None, None, None].astype(np.float32) * rng.standard_normal(out.shape, dtype=np.float32)
        return out

    all_idx = np.arange(n)
    idx_b = np.flatnonzero(two)
    person_a = to_camera(pose_a, all_idx, bone_scale[subj_ids], yaw_a, shift_a)
    person_b = to_camera(pose_b, idx_b, bone_scale[partner], yaw_b, shift_b)
    row_b = {int(i): r for r, i in enumerate(idx_b)}
    samples = []
    for i in range(n):
        persons = [person_a[i, : lengths[i]]] + ([person_b[row_b[i], : lengths[i]]] if i in row_b else [])
        samples.append(np.ascontiguousarray(np.stack(persons)))
    return samples, cam_yaw


def generate_synthetic(num_classes: int = 20, train_per_class: int = 100, test_per_class: int = 30, seed: int = 0,
                       dataset_id: str = "synthetic", **options) -> RawDataset:
    """Generate the synthetic NTU-25 action dataset (see the module docstring).

    Returns a :class:`RawDataset` with layout ``ntu25``, one benchmark ``default`` (train subjects
    → 'train', test subjects → 'test'), samples float32 (M_i, T_i, 25, 3), M_i ∈ {1, 2}. Further
    options are the fields of :class:`SyntheticConfig` (min_frames, max_frames, noise, style,
    num_subjects, train_subject_share, max_camera_yaw_deg, bystander_prob, distractor_prob, classes)."""
    known = {f.name for f in fields(SyntheticConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"synthetic dataset '{dataset_id}': unknown option(s) {unknown}; "
                         f"available: {sorted(known)}")
    if options.get("classes") is not None:
        options["classes"] = tuple(options["classes"])
    cfg = SyntheticConfig(num_classes=int(num_classes), train_per_class=int(train_per_class),
                          test_per_class=int(test_per_class), seed=int(seed), **options)
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    bone_scale = _subjects(cfg, rng)
    n_train_subj = int(round(cfg.num_subjects * cfg.train_subject_share))
    subj_perm = rng.permutation(cfg.num_subjects)
    train_subj, test_subj = np.sort(subj_perm[:n_train_subj]), np.sort(subj_perm[n_train_subj:])

    samples: List[np.ndarray] = []
    rows: List[Tuple[str, int, str]] = []
    counter: Dict[Tuple[int, int, int], int] = {}
    specs = cfg.class_specs()
    for label, spec in enumerate(specs):
        n_tr, n_te = cfg.train_per_class, cfg.test_per_class
        subj = np.concatenate([rng.choice(train_subj, n_tr), rng.choice(test_subj, n_te)])
        split = ["train"] * n_tr + ["test"] * n_te
        class_samples, cam_yaw = _generate_class(spec, n_tr + n_te, subj, bone_scale, cfg, rng)
        cams = np.where(cam_yaw < -15, 1, np.where(cam_yaw > 15, 3, 2))
        for i in range(n_tr + n_te):
            key = (int(cams[i]), int(subj[i]), label)
            counter[key] = counter.get(key, 0) + 1
            name = f"S001C{cams[i]:03d}P{subj[i] + 1:03d}R{counter[key]:03d}A{label + 1:03d}"
            rows.append((name, label, split[i]))
        samples.extend(class_samples)

    table = pd.DataFrame(rows, columns=["name", "label", "default"])
    order = np.argsort(table["name"].to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    samples = [samples[i] for i in order]
    return RawDataset(
        dataset=dataset_id, layout="ntu25", num_classes=cfg.num_classes, benchmarks=["default"],
        samples=samples, table=table, coords="xyz", class_names=[c.name for c in specs],
        sources={"generator": f"benchmark.data.synthetic v{GENERATOR_VERSION}"},
        reader="synthetic", reader_version=GENERATOR_VERSION,
        extra={"synthetic": asdict(cfg)},
    )


@register_reader("synthetic", version=GENERATOR_VERSION)
def read_synthetic(root, dataset_id: str = "synthetic", **options) -> RawDataset:
    """Reader entry point: ``root`` is ignored (nothing is read from disk); options go to
    :func:`generate_synthetic`."""
    return generate_synthetic(dataset_id=dataset_id, **options)
