"""The skeleton graph: edge sets, hop distances, and ST-GCN's partitioned, normalised adjacency,
checked against a literal loop over the official partition rule."""

from __future__ import annotations

import numpy as np
import pytest

from engine.skeleton import graph as G
from engine.skeleton.layouts import NTU25, NTU25_JOINTS


def official_spatial_loop(hop_dis: np.ndarray, center: int, max_hop: int = 1) -> np.ndarray:
    """The official per-element rule, written as plainly as possible (yysijie/st-gcn get_adjacency)."""
    v = hop_dis.shape[0]
    adjacency = np.zeros((v, v))
    for hop in range(max_hop + 1):
        adjacency[hop_dis == hop] = 1
    col = adjacency.sum(0)
    norm = np.zeros((v, v))
    for j in range(v):
        for i in range(v):
            if col[i] > 0:
                norm[j, i] = adjacency[j, i] / col[i]
    out = []
    for hop in range(max_hop + 1):
        root, close, further = np.zeros((v, v)), np.zeros((v, v)), np.zeros((v, v))
        for i in range(v):
            for j in range(v):
                if hop_dis[j, i] == hop:
                    if hop_dis[j, center] == hop_dis[i, center]:
                        root[j, i] = norm[j, i]
                    elif hop_dis[j, center] > hop_dis[i, center]:
                        close[j, i] = norm[j, i]
                    else:
                        further[j, i] = norm[j, i]
        if hop == 0:
            out.append(root)
        else:
            out.append(root + close)
            out.append(further)
    return np.stack(out)


def test_stgcn_edges_form_a_tree_and_differ_from_kinect_only_at_the_hands():
    edges = G.NTU25_STGCN_EDGES
    assert len(edges) == 24 and len({frozenset(e) for e in edges}) == 24
    d = G.hop_distance(25, edges, max_hop=None)
    assert np.isfinite(d).all()  # connected, 24 edges on 25 joints: a tree
    official = {frozenset(e) for e in edges}
    kinect = {frozenset(e) for e in NTU25.bones}
    def edge(a, b):
        return frozenset((NTU25_JOINTS.index(a), NTU25_JOINTS.index(b)))

    only_official = {edge("hand_tip_left", "thumb_left"), edge("thumb_left", "hand_left"),
                     edge("hand_tip_right", "thumb_right"), edge("thumb_right", "hand_right")}
    assert official - kinect == only_official
    assert len(kinect - official) == 4
    assert G.layout_edges("ntu25", "layout") == NTU25.bones


def test_stgcn_edge_set_is_ntu_only():
    with pytest.raises(ValueError, match="NTU-25 only"):
        G.layout_edges("mediapipe33", "stgcn")
    with pytest.raises(ValueError, match="unknown edge set"):
        G.layout_edges("ntu25", "kinect")


def test_hop_distance_is_symmetric_and_truncated():
    d1 = G.hop_distance(25, G.NTU25_STGCN_EDGES, max_hop=1)
    full = G.hop_distance(25, G.NTU25_STGCN_EDGES, max_hop=None)
    assert np.array_equal(d1, d1.T) and np.all(np.diag(d1) == 0)
    assert set(np.unique(d1)) == {0.0, 1.0, np.inf}
    assert np.array_equal(d1 == 1, full == 1)
    # spine_base -> spine_mid -> spine_shoulder -> shoulder -> elbow -> wrist -> hand -> thumb -> tip
    assert full[NTU25_JOINTS.index("spine_base"), NTU25_JOINTS.index("hand_tip_left")] == 8
    assert G.hop_distance(25, G.NTU25_STGCN_EDGES, max_hop=2).max() == np.inf


def test_default_graph_is_the_official_one():
    g = G.Graph()
    assert g.center_index == 20 == NTU25_JOINTS.index("spine_shoulder")  # official: center = 21 - 1
    assert g.A.shape == (3, 25, 25) and g.A.dtype == np.float32
    np.testing.assert_allclose(g.A, official_spatial_loop(g.hop_dis, 20), atol=1e-7)
    assert not g.A.flags.writeable


@pytest.mark.parametrize("spatial_distance", ["max_hop", "exact"])
def test_spatial_partition_is_a_normalised_split_of_the_neighbourhood(spatial_distance):
    g = G.Graph(spatial_distance=spatial_distance)
    a = g.A.astype(np.float64)
    total = a.sum(0)
    np.testing.assert_allclose(total.sum(axis=0), np.ones(25), atol=1e-6)  # columns sum to 1
    support = G.binary_adjacency(25, G.NTU25_STGCN_EDGES) + np.eye(25)
    assert np.array_equal(total > 0, support > 0)
    assert np.array_equal(support, support.T)
    # the partitions never overlap; partition 0 is the self-loop, 1/(degree + 1)
    assert np.array_equal(((a > 0).sum(0) <= 1), np.ones((25, 25), dtype=bool))
    np.testing.assert_allclose(np.diag(a[0]), 1.0 / support.sum(0), atol=1e-6)
    assert np.count_nonzero(a[0] - np.diag(np.diag(a[0]))) == 0
    # every edge appears in both directions, one direction in each neighbour partition or both in 1
    both = (a[1] > 0) | (a[2] > 0)
    assert np.array_equal(both, both.T)


def test_official_truncation_keeps_most_edges_out_of_the_nearer_partition():
    official, exact = G.Graph().A, G.Graph(spatial_distance="exact").A
    # a tree has no same-distance edges: with true distances each edge is one in / one out
    assert np.array_equal(exact[1] > 0, (exact[2] > 0).T)
    assert np.count_nonzero(exact[2]) == 24
    # official: distances beyond one hop are inf and compare equal, so only edges touching the
    # centre's one-hop neighbourhood are split (mmskeleton issue #367)
    d = G.hop_distance(25, G.NTU25_STGCN_EDGES, 1)[:, 20]
    near = np.flatnonzero(np.isfinite(d))
    rows, cols = np.nonzero(official[2])
    assert np.count_nonzero(official[2]) == 8
    assert all(r in near for r in rows) and all(c in near or r in near for r, c in zip(rows, cols))
    np.testing.assert_allclose(official.sum(0), exact.sum(0), atol=1e-7)  # same neighbourhoods


def test_uniform_distance_and_undirected_normalisation():
    uniform = G.Graph(strategy="uniform").A
    distance = G.Graph(strategy="distance").A
    assert uniform.shape == (1, 25, 25) and distance.shape == (2, 25, 25)
    np.testing.assert_allclose(distance.sum(0), uniform[0], atol=1e-7)
    sym = G.Graph(strategy="uniform", normalization="undigraph").A[0]
    np.testing.assert_allclose(sym, sym.T, atol=1e-7)
    assert not np.allclose(uniform[0], uniform[0].T)  # digraph normalisation is column-wise only
    with pytest.raises(ValueError, match="unknown partition strategy"):
        G.Graph(strategy="random").A  # noqa: B018


def test_layout_graph_and_explicit_centre():
    g = G.Graph(edges="layout", center="spine_mid", spatial_distance="exact")
    assert g.center_index == 1
    assert np.count_nonzero(g.A[2]) == 24  # the Kinect tree, split by true distance to spine_mid
    with pytest.raises(ValueError, match="not a joint"):
        G.Graph(center="nose")
