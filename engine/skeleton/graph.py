"""Skeleton graphs for graph convolutions: edges, hop distances, partitioned adjacency (numpy only).

The analogue of pyskl's ``Graph`` and of ``net/utils/graph.py`` in yysijie/st-gcn (ST-GCN, Yan et al.,
AAAI 2018), which the ST-GCN encoders here follow. A :class:`Graph` is built from a joint layout
(:mod:`engine.skeleton.layouts`) and a named edge set, and gives the ``(K, V, V)`` stack of
normalised adjacency matrices a graph convolution sums over.

Conventions, all as in the official code:

* ``A[k, j, i]`` is the weight with which joint ``j`` feeds joint ``i`` in partition ``k``: a layer
  computes ``out[..., i] = sum_k sum_j x_k[..., j] * A[k, j, i]`` (the official
  ``einsum('nkctv,kvw->nctw')``), so a column is the neighbourhood of one output joint.
* Normalisation is ``normalize_digraph``: the binary adjacency (self-loops included) times the
  inverse of its column sums, so every column of the summed partitions adds up to 1.
* Hop distances beyond ``max_hop`` are infinite (``get_hop_distance``).

Where the official code and the paper differ (the code is followed by default, so that weights and
accuracies published with it carry over; the paper variant is an option):

* The *spatial* partition compares the joints' hop distances to a fixed centre joint, the one the
  official ``ntu-rgb+d`` graph names (joint 21, 1-based: ``spine_shoulder``), not the frame's
  centre of gravity of the paper.
* Those distances come from the hop-distance matrix truncated at ``max_hop`` (1), so every joint more
  than one hop from the centre is at distance ``inf`` and ``inf == inf`` puts the edges between such
  joints into the "same distance" group: only edges touching the centre's one-hop neighbourhood are
  ever split into centripetal and centrifugal (known upstream: open-mmlab/mmskeleton issue #367).
  ``spatial_distance="exact"`` uses true graph distances, the paper's partition.
* Partition 1 of the code is "same or farther from the centre than the output joint" (``a_root +
  a_close`` in the code's names), partition 2 is "nearer" (mmskeleton issue #245 discusses the names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.skeleton.layouts import NTU25, Layout, get_layout

# NTU-25 edges of the official ST-GCN graph (yysijie/st-gcn net/utils/graph.py, layout 'ntu-rgb+d',
# 1-based there; the same list is used by AimCLR, SMIE and 2s-AGCN). It differs from the Kinect v2
# hierarchy of layouts.py at the hands: here the hand tip hangs off the thumb and the thumb off the
# hand (22-23, 23-8), where Kinect attaches the tip to the hand and the thumb to the wrist.
_NTU25_STGCN_EDGES_1BASED = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
    (22, 23), (23, 8), (24, 25), (25, 12),
)  # fmt: skip
NTU25_STGCN_EDGES: tuple[tuple[int, int], ...] = tuple((i - 1, j - 1) for i, j in _NTU25_STGCN_EDGES_1BASED)

# The centre joint of the official 'ntu-rgb+d' graph: ``self.center = 21 - 1`` (spine_shoulder).
NTU25_STGCN_CENTER = "spine_shoulder"

Edges = Sequence[tuple[int, int]]  # undirected joint index pairs

EDGE_SETS = ("stgcn", "layout")
STRATEGIES = ("uniform", "distance", "spatial")


def layout_edges(layout: Layout | str = NTU25, edges: str = "stgcn") -> tuple[tuple[int, int], ...]:
    """The undirected edges (joint index pairs) of a layout's graph, self-loops excluded.

    Args:
        layout: a :class:`~engine.skeleton.layouts.Layout` or its registry name.
        edges: ``"stgcn"`` for the official ST-GCN NTU-25 edge list (NTU-25 only), ``"layout"`` for
            the layout's own bone tree (:attr:`Layout.bones`).

    Returns:
        ``(a, b)`` pairs, 0-based.
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    if edges == "stgcn":
        if layout.num_joints != len(NTU25.joints) or layout.joints != NTU25.joints:
            raise ValueError(f"the 'stgcn' edge set is defined for NTU-25 only, not {layout.name!r}")
        return NTU25_STGCN_EDGES
    if edges == "layout":
        return layout.bones
    raise ValueError(f"unknown edge set {edges!r} (known: {', '.join(EDGE_SETS)})")


def binary_adjacency(num_nodes: int, edges: Edges) -> np.ndarray:
    """Symmetric 0/1 ``(V, V)`` matrix of the edges, without self-loops."""
    a = np.zeros((num_nodes, num_nodes))
    for i, j in edges:
        if not (0 <= i < num_nodes and 0 <= j < num_nodes):
            raise ValueError(f"edge ({i}, {j}) is outside a {num_nodes}-node graph")
        if i != j:
            a[i, j] = a[j, i] = 1.0
    return a


def hop_distance(num_nodes: int, edges: Edges, max_hop: int | None = 1) -> np.ndarray:
    """Graph distance between every pair of joints, ``inf`` beyond ``max_hop`` (or unreachable).

    Args:
        num_nodes: V.
        edges: undirected joint pairs.
        max_hop: largest distance computed, as the official ``get_hop_distance``; ``None`` computes
            every finite distance.

    Returns:
        float ``(V, V)``, symmetric, 0 on the diagonal.
    """
    a = binary_adjacency(num_nodes, edges) + np.eye(num_nodes)
    limit = num_nodes - 1 if max_hop is None else max_hop
    dist = np.full((num_nodes, num_nodes), np.inf)
    reach = np.eye(num_nodes, dtype=bool)
    dist[reach] = 0
    for d in range(1, limit + 1):
        # Joints reachable in at most d steps; the first d at which a pair appears is its distance.
        new = (reach.astype(float) @ a > 0) & ~reach
        if not new.any():
            break
        dist[new] = d
        reach |= new
    return dist


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """``A @ D^-1`` with D the column sums: every non-empty column sums to 1 (official default)."""
    col = a.sum(axis=0)
    inv = np.divide(1.0, col, out=np.zeros_like(col, dtype=float), where=col > 0)
    return a * inv[None, :]


def normalize_undigraph(a: np.ndarray) -> np.ndarray:
    """``D^-1/2 A D^-1/2`` (the paper's symmetric normalisation; the official code defines but does
    not use it for the partitions)."""
    col = a.sum(axis=0)
    inv = np.divide(1.0, np.sqrt(col), out=np.zeros_like(col, dtype=float), where=col > 0)
    return inv[:, None] * a * inv[None, :]


def partition(
    strategy: str,
    hop_dis: np.ndarray,
    center: int | None = None,
    max_hop: int = 1,
    dilation: int = 1,
    normalization: str = "digraph",
    center_distance: np.ndarray | None = None,
) -> np.ndarray:
    """The partitioned, normalised adjacency stack of ST-GCN.

    Args:
        strategy: ``"uniform"`` (K=1), ``"distance"`` (K = number of valid hops) or ``"spatial"``
            (K = 1 + 2 per non-zero hop: self, same-or-farther, nearer).
        hop_dis: ``(V, V)`` hop distances (:func:`hop_distance`), ``inf`` beyond ``max_hop``.
        center: the centre joint (``"spatial"`` only).
        max_hop: largest neighbourhood distance.
        dilation: step between the hops used (``range(0, max_hop + 1, dilation)``).
        normalization: ``"digraph"`` (official) or ``"undigraph"``.
        center_distance: ``(V,)`` distance of each joint to the centre used by the spatial split;
            defaults to ``hop_dis[:, center]`` (official: truncated at ``max_hop``).

    Returns:
        float32 ``(K, V, V)``, ``A[k, j, i]``: weight of joint j in joint i's output.
    """
    valid_hop = list(range(0, max_hop + 1, dilation))
    adjacency = np.isin(hop_dis, valid_hop).astype(float)
    norm = {"digraph": normalize_digraph, "undigraph": normalize_undigraph}
    if normalization not in norm:
        raise ValueError(f"unknown normalization {normalization!r} (known: digraph, undigraph)")
    normalized = norm[normalization](adjacency)
    if strategy == "uniform":
        return normalized[None].astype(np.float32)
    if strategy == "distance":
        return np.stack([np.where(hop_dis == h, normalized, 0.0) for h in valid_hop]).astype(np.float32)
    if strategy != "spatial":
        raise ValueError(f"unknown partition strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    if center is None:
        raise ValueError("the spatial partition needs a centre joint")
    r = hop_dis[:, center] if center_distance is None else np.asarray(center_distance, dtype=float)
    # r_src[j, i] = r[j] (the feeding joint), r_dst[j, i] = r[i] (the output joint). inf == inf is True
    # in numpy as in the official per-element comparison, which is what makes the official quirk.
    r_src, r_dst = r[:, None], r[None, :]
    stack = []
    for h in valid_hop:
        at_hop = hop_dis == h
        same = at_hop & (r_src == r_dst)
        farther = at_hop & (r_src > r_dst)
        nearer = at_hop & ~same & ~farther
        if h == 0:
            stack.append(np.where(same, normalized, 0.0))
        else:
            stack.append(np.where(same | farther, normalized, 0.0))
            stack.append(np.where(nearer, normalized, 0.0))
    return np.stack(stack).astype(np.float32)


@dataclass(frozen=True)
class Graph:
    """A skeleton graph and its partitioned adjacency.

    Attributes:
        layout: registry name of the joint layout (``"ntu25"``).
        edges: edge set name (:data:`EDGE_SETS`).
        strategy: partition strategy (:data:`STRATEGIES`).
        center: centre joint name for the spatial partition; ``None`` takes the official one
            (``spine_shoulder`` on NTU-25) or the layout's root.
        max_hop: neighbourhood radius in hops.
        dilation: step between used hops.
        spatial_distance: ``"max_hop"`` (official: distances to the centre truncated at ``max_hop``)
            or ``"exact"`` (the paper: true graph distances).
        normalization: ``"digraph"`` (official) or ``"undigraph"``.
    """

    layout: str = "ntu25"
    edges: str = "stgcn"
    strategy: str = "spatial"
    center: str | None = None
    max_hop: int = 1
    dilation: int = 1
    spatial_distance: str = "max_hop"
    normalization: str = "digraph"

    def __post_init__(self) -> None:
        if self.spatial_distance not in ("max_hop", "exact"):
            raise ValueError(f"unknown spatial_distance {self.spatial_distance!r} (known: max_hop, exact)")
        if self.max_hop < 1 or self.dilation < 1:
            raise ValueError("max_hop and dilation must be at least 1")
        _ = self.edge_list, self.center_index  # validate names early

    @cached_property
    def _layout(self) -> Layout:
        return get_layout(self.layout)

    @property
    def num_nodes(self) -> int:
        return self._layout.num_joints

    @cached_property
    def edge_list(self) -> tuple[tuple[int, int], ...]:
        return layout_edges(self._layout, self.edges)

    @cached_property
    def center_index(self) -> int:
        if self.center is not None:
            if self.center not in self._layout.joints:
                raise ValueError(f"centre joint {self.center!r} is not a joint of layout {self.layout!r}")
            return self._layout.index(self.center)
        if self._layout.joints == NTU25.joints:
            return NTU25.index(NTU25_STGCN_CENTER)
        return self._layout.parents.index(-1)

    @cached_property
    def hop_dis(self) -> np.ndarray:
        """``(V, V)`` hop distances, ``inf`` beyond ``max_hop``."""
        return hop_distance(self.num_nodes, self.edge_list, self.max_hop)

    @cached_property
    def A(self) -> np.ndarray:  # the name every GCN code base uses
        """float32 ``(K, V, V)`` partitioned, normalised adjacency."""
        center_distance = None
        if self.spatial_distance == "exact":
            center_distance = hop_distance(self.num_nodes, self.edge_list, None)[:, self.center_index]
        a = partition(self.strategy, self.hop_dis, self.center_index, self.max_hop, self.dilation,
                      self.normalization, center_distance)
        a.setflags(write=False)  # shared by every model built from this graph
        return a

    @property
    def num_partitions(self) -> int:
        return int(self.A.shape[0])
