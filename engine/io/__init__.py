"""Skeleton file readers and the NTU ``.skeleton`` writer, one module per format.

Every reader maps its source layout to NTU-25 (:mod:`engine.skeleton.layouts`) and returns
:class:`~engine.types.SkeletonSequence` items in a :class:`~engine.io.base.SkeletonCollection`.
Bad input raises :class:`~engine.errors.SkeletonFileError`.
"""

from engine.io import (  # noqa: F401  (importing registers the formats)
    aimclr_npy,
    asf_amc,
    bandai_npz,
    bvh,
    ctrgcn_npz,
    kinder_gator,
    msrc12,
    ntu_skeleton,
    nw_ucla,
    pku_mmd,
    utd_mhad,
)
from engine.io.base import FORMATS, SkeletonCollection
from engine.io.ntu_skeleton import write_ntu_skeleton
from engine.io.reader import detect_format, open_skeleton_file, read_sequence

__all__ = [
    "FORMATS",
    "SkeletonCollection",
    "detect_format",
    "open_skeleton_file",
    "read_sequence",
    "write_ntu_skeleton",
]
