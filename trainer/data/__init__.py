"""Datasets, their locations and splits (the benchmark side of the data layer)."""
