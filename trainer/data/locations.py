"""Where each dataset's files lie under a data root (the layout of ``../shared/data`` and of the
datasets' own releases), and which data root to use when the user names none."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ZsarError

# dataset -> (folder under the data root, glob of its skeleton files)
DATASET_FILES: dict[str, tuple[str, str]] = {
    "utd_mhad": ("utd_mhad", "Skeleton/*.mat"),
    "nw_ucla": ("nw_ucla", "all_sqe/*.json"),
    "bandai": ("bandai_namco_motion", "dataset*_positions_mm.npz"),
    "bandai_bvh": ("bandai_namco_motion", "bvh_samples/*.bvh"),
    "ntu_sample": ("ntu_samples", "*.skeleton"),
    # the user's own copy of NTU RGB+D: the official release's folder of .skeleton files
    "ntu60": ("nturgb+d_skeletons", "*.skeleton"),
    "ntu120": ("nturgb+d_skeletons", "*.skeleton"),
}

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_data_root() -> Path | None:
    """``$ZSAR_DATA_ROOT``, else ``../shared/data`` beside the project when it exists."""
    env = os.environ.get("ZSAR_DATA_ROOT")
    if env:
        return Path(env)
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else None


def dataset_files(dataset: str, data_root: str | os.PathLike | None) -> list[Path]:
    """Sorted skeleton files of ``dataset`` under ``data_root``; a clear error when absent."""
    if dataset not in DATASET_FILES:
        raise ZsarError(f"unknown dataset {dataset!r} (known: {', '.join(DATASET_FILES)})")
    root = Path(data_root) if data_root else default_data_root()
    if root is None:
        raise ZsarError("no data root: pass --data-root DIR or set ZSAR_DATA_ROOT")
    folder, pattern = DATASET_FILES[dataset]
    files = sorted((root / folder).glob(pattern))
    if not files:
        raise ZsarError(f"no {dataset} files matching {folder}/{pattern} under {root}; --data-root must be the "
                        f"folder that holds your copy of the dataset (its {folder}/ folder)")
    return files
