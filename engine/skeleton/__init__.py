"""Skeleton model: joint layouts and their mapping to NTU-25, geometry, preprocessing (numpy only)."""

from engine.skeleton import (
    asf_layouts,  # noqa: F401  (registers the Acclaim ASF/AMC layout)
    bvh_layouts,  # noqa: F401  (registers the name-based BVH layout)
)
