"""``zsar evaluate --bundle B --files DIR --labels LABELS.csv``: how well a bundle recognises a folder
of the user's own labelled clips, by name, zero-shot, without training anything.

Every skeleton file under DIR (any format the readers know) whose name the CSV labels is read; each
sequence it holds is one clip with the file's label. The class set is ``--actions`` or the distinct
labels of the CSV. The bundle and its text encoder load once and the clips go through the encoder in
batches. A file that cannot be read is listed with its one-line error and counted; the run goes on.

LABELS.csv: one row a file, ``file,label`` (a header row naming ``file`` and ``label`` / ``class`` /
``action`` columns is recognised; otherwise the first two columns). ``file`` is a name or a path
relative to DIR.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ZsarError
from engine.types import ClassSet
from trainer.metrics import confusion, per_class_accuracy, top_k

LABEL_COLUMNS = ("label", "class", "action", "class_name", "name")


def read_labels(path: str | Path) -> dict[str, str]:
    """``{file name or relative path: class name}`` from a labels CSV; ZsarError naming the file and
    line otherwise."""
    p = Path(path)
    try:
        rows = list(csv.reader(p.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise ZsarError(f"{p}: cannot read the labels ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ZsarError(f"{p}: no labels in it")
    head = [c.strip().lower() for c in rows[0]]
    file_col, label_col, first = 0, 1, 0
    if "file" in head and any(c in head for c in LABEL_COLUMNS):
        file_col = head.index("file")
        label_col = head.index(next(c for c in LABEL_COLUMNS if c in head))
        first = 1
    labels: dict[str, str] = {}
    for n, row in enumerate(rows[first:], start=first + 1):
        if len(row) <= max(file_col, label_col) or not row[file_col].strip() or not row[label_col].strip():
            raise ZsarError(f"{p}: line {n}: expected a file name and a class name, got {row}")
        labels[row[file_col].strip()] = row[label_col].strip()
    return labels


#: how many of the label rows without a file a result names (the count covers them all)
MISSING_SHOWN = 10


def match_labelled_files(root: Path, labels: dict[str, str], labels_csv: str | Path
                         ) -> tuple[list[tuple[Path, str]], list[str]]:
    """Every file under ``root`` with the label row it takes (the first of its path relative to ``root``,
    its name and its stem that the CSV lists), and the rows no file takes, in the CSV's order: without
    them a row naming a file that is not there would simply never be read."""
    csv_path = Path(labels_csv).resolve()
    matched, used = [], set()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.resolve() != csv_path):
        key = next((k for k in (path.relative_to(root).as_posix(), path.name, path.stem) if k in labels), None)
        if key is not None:
            matched.append((path, key))
            used.add(key)
    return matched, [k for k in labels if k not in used]


def missing_labelled_files(files: str | Path, labels_csv: str | Path) -> tuple[list[str], int]:
    """The label rows of ``labels_csv`` that name no file under ``files``, and how many rows it has."""
    labels = read_labels(labels_csv)
    return match_labelled_files(Path(files), labels, labels_csv)[1], len(labels)


def evaluate_bundle(bundle_path: str | None, files: str | Path, labels_csv: str | Path,
                    actions: str | None = None, batch_size: int = 64, device: str = "auto",
                    plot: str | None = None) -> dict[str, Any]:
    """Top-1 / top-5 accuracy, per-class accuracy and the commonest confusions of a bundle on a folder."""
    from engine.bundle import load_bundle, resolve_bundle
    from engine.io import open_skeleton_file
    from engine.streaming import StreamingRecognizer

    t0 = time.perf_counter()
    root = Path(files)
    if not root.is_dir():
        raise ZsarError(f"{root}: no such folder of skeleton files")
    labels = read_labels(labels_csv)
    try:
        class_set = ClassSet.parse(actions) if actions else ClassSet(tuple(dict.fromkeys(labels.values())))
    except ValueError as exc:
        raise ZsarError(f"--actions: {exc}") from None
    unknown = sorted(set(labels.values()) - set(class_set.names))
    if unknown:
        raise ZsarError(f"labels not among the actions: {', '.join(unknown[:5])}")
    matched, missing = match_labelled_files(root, labels, labels_csv)
    if not matched:
        first = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise ZsarError(f"{labels_csv}: none of its {len(labels)} labelled files is under {root} (first: {first})")
    clips, truth, names, failed = [], [], [], []
    for path, key in matched:
        label = labels[key]
        try:
            for seq in open_skeleton_file(path):
                clips.append(seq.joints)
                truth.append(class_set.names.index(label))
                names.append(seq.name or path.stem)
        except ZsarError as exc:
            failed.append({"file": str(path), "error": str(exc)})
    read_s = time.perf_counter() - t0
    if not clips:
        raise ZsarError(f"no readable labelled clips under {root} ({len(failed)} files failed)")
    bundle = load_bundle(resolve_bundle(bundle_path))
    with StreamingRecognizer(bundle, class_set, device=device) as rec:
        probs = rec.probabilities(clips, batch_size)
    y = np.asarray(truth, dtype=np.int64)
    scored = ~np.isnan(probs).any(1)
    order = np.argsort(-np.nan_to_num(probs, nan=-1.0), axis=1, kind="stable")
    k = len(class_set)
    ranked, truth_scored = order[scored], y[scored]
    matrix = confusion(ranked[:, 0], truth_scored, range(k))
    accs = per_class_accuracy(ranked[:, 0], truth_scored, range(k)) if scored.any() else {}
    per_class = {}
    for c, name in enumerate(class_set.names):
        acc = accs.get(c, float("nan"))
        per_class[name] = {"clips": int(((y == c) & scored).sum()),
                           "top1": None if np.isnan(acc) else round(100 * acc, 2)}
    confusions = Counter({(class_set.names[t], class_set.names[p]): int(matrix[t, p])
                          for t in range(k) for p in range(k) if t != p and matrix[t, p]})
    result = {
        "files": str(root), "labels": str(labels_csv), "bundle": bundle.path, "actions": list(class_set.names),
        "clips": int(len(clips)), "scored": int(scored.sum()), "no_person": int((~scored).sum()),
        "top1": round(100 * top_k(ranked, truth_scored, 1), 2) if scored.any() else None,
        "top5": round(100 * top_k(ranked, truth_scored, 5), 2) if scored.any() else None,
        "per_class": per_class,
        "confusions": [{"true": t, "predicted": p, "clips": n} for (t, p), n in confusions.most_common(10)],
        "failed": failed, "failed_count": len(failed),
        "label_rows": len(labels), "missing_count": len(missing), "missing": missing[:MISSING_SHOWN],
        "confusion_matrix": {"classes": list(class_set.names), "matrix": matrix.tolist()},
        "seconds": {"read": round(read_s, 2), "total": round(time.perf_counter() - t0, 2)},
    }
    if plot:
        result["plot"] = _plot(matrix, class_set.names, plot)
    return result


def _plot(matrix: np.ndarray, names: tuple[str, ...], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    size = max(6.0, 0.35 * len(names))
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def format_text(r: dict[str, Any]) -> str:
    lines = [f"{r['clips']} clips from {r['files']} against {len(r['actions'])} actions ({r['bundle']})",
             f"  top-1 {r['top1']}%   top-5 {r['top5']}%   ({r['scored']} scored, {r['no_person']} without a person, "
             f"{r['failed_count']} files unreadable, {r['seconds']['total']} s)", "  per class:"]
    for name, v in r["per_class"].items():
        lines.append(f"    {'-' if v['top1'] is None else format(v['top1'], '6.2f'):>6}  {name} ({v['clips']})")
    if r["confusions"]:
        lines.append("  commonest confusions:")
        lines += [f"    {c['clips']:4d}  {c['true']} -> {c['predicted']}" for c in r["confusions"]]
    for f in r["failed"]:
        lines.append(f"  unreadable: {f['error']}")
    if r.get("plot"):
        lines.append(f"  confusion matrix: {r['plot']}")
    return "\n".join(lines)
