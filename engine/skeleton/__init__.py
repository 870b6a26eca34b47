"""Skeleton model: joint layouts and their mapping to NTU-25, graphs, preprocessing (numpy only)."""
