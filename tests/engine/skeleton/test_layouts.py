import numpy as np
import pytest

from engine.skeleton import layouts as L
from engine.skeleton.geometry import chirality

from .clips import REST, rot_y


@pytest.mark.parametrize("name", L.LAYOUTS.names())
def test_layout_is_a_tree_with_named_left_right_pairs(name):
    lay = L.get_layout(name)
    assert len(set(lay.joints)) == lay.num_joints
    roots = [i for i, p in enumerate(lay.parents) if p < 0]
    assert len(roots) == 1
    # every joint reaches the root without cycles
    for j in range(lay.num_joints):
        seen, k = set(), j
        while k >= 0:
            assert k not in seen
            seen.add(k)
            k = lay.parents[k]
    assert len(lay.bones) == lay.num_joints - 1
    for left, right in lay.left_right:
        a, b = lay.joints[left].lower(), lay.joints[right].lower()
        acclaim = a[0] == "l" and b == "r" + a[1:]  # Acclaim ASF bone names: lfemur / rfemur
        assert (("left" in a or "_l" in a) and ("right" in b or "_r" in b)) or acclaim


def test_ntu_bones_match_the_kinect_v2_hierarchy():
    # 1-based bone list of docs/live_input.md#from-mediapipe-33-to-ntu-25
    bones = {(1, 2), (2, 21), (21, 3), (3, 4), (21, 5), (5, 6), (6, 7), (7, 8), (8, 22), (7, 23), (21, 9),
             (9, 10), (10, 11), (11, 12), (12, 24), (11, 25), (1, 13), (13, 14), (14, 15), (15, 16),
             (1, 17), (17, 18), (18, 19), (19, 20)}  # fmt: skip
    assert {(p + 1, c + 1) for p, c in L.NTU25.bones} == bones
    assert len(L.NTU25.left_right) == 10


@pytest.mark.parametrize("name", [n for n in L.LAYOUTS.names() if n != "ntu25"])
def test_mapping_is_affine_so_it_commutes_with_translation(name):
    lay = L.get_layout(name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, lay.num_joints, 3)).astype(np.float32)
    shift = np.array([0.3, -1.2, 2.5], dtype=np.float32)
    axes = np.asarray(lay.axes, dtype=np.float32)
    np.testing.assert_allclose(L.to_ntu25(x + shift, lay), L.to_ntu25(x, lay) + axes @ shift, atol=1e-5)
    assert np.isclose(np.linalg.det(axes), 1.0), "an axis change must never mirror the body"


def _mp33_to_ntu25_reference(w):
    """The reference implementation described in docs/live_input.md#from-mediapipe-33-to-ntu-25, written out
    independently."""
    w = np.asarray(w, float)
    j = np.zeros((25, 3))
    mid = lambda a, b: 0.5 * (w[a] + w[b])  # noqa: E731
    base, sh = mid(23, 24), mid(11, 12)
    j[0], j[20] = base, sh
    j[1] = base + 0.5 * (sh - base)
    j[2] = 0.5 * (sh + mid(9, 10))
    j[3] = mid(7, 8)
    for s, (S, E, W, P, I, T, H, K, A, F) in enumerate(  # noqa: E741 - the landmarks' initials
        [(11, 13, 15, 17, 19, 21, 23, 25, 27, 31), (12, 14, 16, 18, 20, 22, 24, 26, 28, 32)]
    ):
        knuck = 0.5 * (w[P] + w[I])
        j[4 + 4 * s : 8 + 4 * s] = w[S], w[E], w[W], 0.5 * (w[W] + knuck)
        j[12 + 4 * s : 16 + 4 * s] = w[H], w[K], w[A], w[F]
        j[21 + 2 * s], j[22 + 2 * s] = knuck + 0.8 * (knuck - w[W]), w[T]
    return j * (-1.0, -1.0, 1.0)


def test_mediapipe_mapping_matches_the_documented_rules():
    w = np.random.default_rng(1).normal(size=(33, 3))
    np.testing.assert_allclose(L.to_ntu25(w, "mediapipe33"), _mp33_to_ntu25_reference(w), atol=1e-5)
    assert int(L.MEDIAPIPE33.measured.sum()) == 16  # 9 of 25 synthesised


def test_absent_bodies_stay_zero():
    x = np.zeros((2, 20, 3), dtype=np.float32)
    x[0] = 1.0
    out = L.to_ntu25(x, "kinect_v1_20")
    assert np.all(out[1] == 0) and np.all(out[0] == 1.0)


def test_kinect_synthesis_and_harmonise():
    lay = L.KINECT_V1
    x = np.random.default_rng(2).normal(size=(20, 3)).astype(np.float32)
    ntu = L.to_ntu25(x, lay)
    J = L.NTU25_JOINTS.index
    np.testing.assert_allclose(ntu[J("neck")], 0.5 * (x[lay.index("shoulder_center")] + x[lay.index("head")]))
    np.testing.assert_array_equal(ntu[J("hand_tip_left")], x[lay.index("hand_left")])
    # A richer source brought to Kinect v1's state: tips and thumbs become copies of the hands,
    # the neck the midpoint; measured joints are untouched.
    rich = np.random.default_rng(3).normal(size=(4, 25, 3)).astype(np.float32)
    h = L.harmonise(rich, "kinect_v1_20")
    np.testing.assert_array_equal(h[:, J("thumb_right")], rich[:, J("hand_right")])
    np.testing.assert_allclose(h[:, J("neck")], 0.5 * (rich[:, J("spine_shoulder")] + rich[:, J("head")]), atol=1e-6)
    measured = lay.measured
    np.testing.assert_array_equal(h[:, measured], rich[:, measured])
    # harmonising Kinect-mapped data again changes nothing (its synthesised joints already follow the rules)
    np.testing.assert_allclose(L.harmonise(ntu, lay), ntu, atol=1e-6)
    np.testing.assert_array_equal(L.harmonise(rich, "ntu25"), rich)


def test_bandai_head_is_extrapolated_along_the_neck():
    lay = L.BANDAI22
    x = np.zeros((22, 3), dtype=np.float32)
    x[lay.index("Neck")] = (0, 1.32, 0)
    x[lay.index("Head")] = (0, 1.38, 0)
    ntu = L.to_ntu25(x, lay)
    assert ntu[L.NTU25_JOINTS.index("head"), 1] == pytest.approx(1.50, abs=1e-5)


def test_chirality_sign_follows_left_right_labels_whatever_the_facing():
    body = REST.astype(np.float64)
    mirrored = body.copy()
    for left, right in L.NTU25.left_right:
        mirrored[[left, right]] = mirrored[[right, left]]
    for yaw in np.linspace(0, 2 * np.pi, 7):
        r = rot_y(yaw)
        assert chirality(body @ r.T) > 0.9
        assert chirality(mirrored @ r.T) < -0.9
