"""Where each dataset's files lie under a data root (the layout of ``../shared/data`` and of the
datasets' own releases), and which data root to use when the user names none."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ZsarError

# dataset -> (folder under the data root, glob of its skeleton files); a list: alternatives, first hit wins
DATASET_FILES: dict[str, tuple[str, str] | list[tuple[str, str]]] = {
    "utd_mhad": ("utd_mhad", "Skeleton/*.mat"),
    "nw_ucla": ("nw_ucla", "all_sqe/*.json"),
    "bandai": ("bandai_namco_motion", "dataset*_positions_mm.npz"),
    "bandai_namco1": ("bandai_namco_motion", "dataset1_positions_mm.npz"),
    "bandai_namco2": ("bandai_namco_motion", "dataset2_positions_mm.npz"),
    "bandai_bvh": ("bandai_namco_motion", "bvh_samples/*.bvh"),
    "kinder_gator": ("kinder_gator", "*/POSE-*.csv"),
    "msrc12": ("msrc12", "msrc12_joints_mm.npz"),
    # one HDM05 clip has an upper-case ".AMC" (hdm05_subset/README.txt)
    "hdm05": ("hdm05_subset", "*/*/*.[aA][mM][cC]"),
    "ntu_sample": ("ntu_samples", "*.skeleton"),
    # the user's own copy of NTU RGB+D: the official release's folder of .skeleton files
    "ntu60": ("nturgb+d_skeletons", "*.skeleton"),
    "ntu120": ("nturgb+d_skeletons", "*.skeleton"),
    # PKU-MMD part I: the release's Skeleton/ archive extracted in a PKU-MMD/ folder or in the data root itself,
    # or AimCLR's layout (PKU_Skeleton_Renew/ beside Train_Label_PKU_final/); engine.io.pku_mmd finds the labels
    "pku51": [("PKU-MMD", "Skeleton/PKU_Skeleton_Renew/*.txt"), ("PKU-MMD", "PKU_Skeleton_Renew/*.txt"),
              (".", "Skeleton/PKU_Skeleton_Renew/*.txt"), (".", "PKU_Skeleton_Renew/*.txt")],
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
    places = DATASET_FILES[dataset]
    for folder, pattern in [places] if isinstance(places, tuple) else places:
        files = sorted((root / folder).glob(pattern))
        if files:
            return files
    folder, pattern = places if isinstance(places, tuple) else places[0]
    raise ZsarError(f"no {dataset} files matching {folder}/{pattern} under {root}; --data-root must be the "
                    f"folder that holds your copy of the dataset (its {folder}/ folder)")
