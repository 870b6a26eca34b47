"""``zsar bench zeroshot``: the cross-dataset zero-shot benchmark (leave one dataset out).

For each of the six datasets beside the project (UTD-MHAD, NW-UCLA, Bandai-Namco 2, Kinder-Gator,
MSRC-12, HDM05 subset) a recipe (a preset document: encoder, objective, augmentations, text side,
method) is trained on the training people of the *other five*, every class seen (split
``zsar_loo_<dataset>``), exported as a bundle exactly as ``zsar export`` writes one, and the bundle
recognises the held-out dataset's test people by that dataset's class names, typed as a user would
(``assets/classes/<dataset>.txt``). The scores come from the product's recognizer
(:class:`engine.streaming.StreamingRecognizer`: the class set embedded as the app embeds it).

Reported per fold: top-1 and top-5 accuracy, chance, per-class top-1, and the same over the **new
names**: held-out classes whose name has no near duplicate among the fold's training names (MiniLM
cosine of the typed names below :data:`NEW_NAME_COSINE`; "walk in place" vs "walking in place" is a
near duplicate, "tennis serve" is new). Calibration: each fold's temperature is fitted on the other
five folds' held-out scores (leave one fold out) and the expected calibration error reported before
and after; the temperature fitted on all six is what the default bundle ships.

Runs and bundles are kept under ``--out`` (``<out>/<recipe>[/<variant>]/<dataset>/``), so a second call
only evaluates, an interrupted one resumes, and ``--write`` puts the tables into ``docs/results.md``
between markers. ``--quick`` trains a quarter of the epochs (development; the figures are lower).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ZsarError

FOLDS = ("utd_mhad", "nw_ucla", "bandai_namco2", "kinder_gator", "msrc12", "hdm05")
DEFAULT_SET = "zsar_default"  # the combined split whose parts are the six datasets' protocols
NEW_NAME_COSINE = 0.6
ECE_BINS = 10
QUICK_SHARE = 0.25


def add_parser(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("zeroshot", help="cross-dataset zero-shot benchmark: train on five datasets, "
                                              "recognise the sixth by its class names")
    p.add_argument("--recipe", action="append",
                   help="a preset document (assets/configs/presets/<name>.json) to train; repeat to compare "
                        "(default: zsar_default_v1 and zsar_default, today's recipe and the new one)")
    p.add_argument("--method", help="the method of the recipe to train (default: the recipe's 'benchmark_method')")
    p.add_argument("--fold", action="append", choices=FOLDS, help="held-out dataset(s) (default: all six)")
    p.add_argument("--ablation", action="store_true",
                   help="also train the last recipe with each of its levers switched off (its 'ablation' entry)")
    p.add_argument("--quick", action="store_true", help=f"{int(QUICK_SHARE * 100)}%% of the epochs (development)")
    p.add_argument("--quick-ablation", action="store_true",
                   help=f"train the ablation (and the last recipe as its reference) at {int(QUICK_SHARE * 100)}%% "
                        "of the epochs while the recipes themselves train in full")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: tabulate the folds already scored under --out (a fold not run is left blank)")
    p.add_argument("--data-root", help="folder holding the datasets (default: $ZSAR_DATA_ROOT or ../shared/data)")
    p.add_argument("--out", default="runs/zeroshot", help="where runs, bundles and scores are kept")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--write", metavar="RESULTS_MD", help="write the tables into this markdown file (between markers)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


# --- one fold -------------------------------------------------------------------------------------------------


def part_split(dataset: str) -> str:
    """The split (of ``zsar_default``'s parts) that cuts ``dataset`` into training and test people."""
    from trainer.data.splits import load_split

    for part in load_split(DEFAULT_SET).parts:
        if load_split(part).dataset == dataset:
            return part
    raise ZsarError(f"{dataset} is not one of the default model's datasets")


def train_fold(doc: dict, method: str, held_out: str, folder: Path, data_root: str | None, device: str,
               variant: dict | None, events=None, split: str | None = None) -> Path:
    """Train the recipe on the fold that leaves ``held_out`` out (resuming a run left unfinished) and
    export its bundle; returns the bundle's path. ``split``: another training split than the fold's
    ``zsar_loo_<held_out>`` (a name or a JSON path; the tests train on one small dataset)."""
    from trainer.commands.export import export_run
    from trainer.presets import recipe_config
    from trainer.runs import Run
    from trainer.stages import run_pipeline

    bundle = folder / "bundle.zsar"
    if bundle.exists():
        return bundle
    from trainer.events import JsonlSink, MultiSink

    config = recipe_config(doc, split or f"zsar_loo_{held_out}", method, data_root, device, variant=variant)
    run = Run(folder / "run")
    run.start(config, resume=True)
    jsonl = JsonlSink(run.events_path)  # progress to follow (tail -f RUN/events.jsonl), as zsar train writes
    try:
        run_pipeline(run, config, MultiSink(jsonl, events) if events is not None else jsonl)
    finally:
        jsonl.close()
    export_run(run.path, bundle, {"benchmark": f"cross-dataset zero-shot, {held_out} held out"})
    return bundle


def novel_classes(names: tuple[str, ...], training_names: tuple[str, ...]) -> tuple[list[bool], list[float]]:
    """Which held-out names have no near duplicate among the training names (MiniLM cosine below
    :data:`NEW_NAME_COSINE`), and each one's highest cosine."""
    from engine.text import create_text_encoder
    from engine.text.cached import CachedTextEncoder

    encoder = CachedTextEncoder(create_text_encoder("minilm"))
    a, b = encoder.encode(list(names)), encoder.encode(list(dict.fromkeys(training_names)))
    best = (a @ b.T).max(axis=1)
    return [bool(c < NEW_NAME_COSINE) for c in best], [round(float(c), 3) for c in best]


def _topk(logits: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return (order == y[:, None]).any(axis=1)


def evaluate_fold(bundle_path: Path, held_out: str, data_root: str | None, device: str = "cpu") -> dict[str, Any]:
    """The bundle's zero-shot scores on the held-out dataset's test people, by its class names."""
    from engine.bundle import load_bundle
    from engine.streaming import StreamingRecognizer
    from engine.types import ClassSet
    from trainer.data.datasets import load_skeletons, protocol_masks
    from trainer.data.splits import load_split

    bundle = load_bundle(bundle_path)
    part = load_split(part_split(held_out))
    names = part.names()
    data = load_skeletons(held_out, data_root, bundle.preprocess, harmonise_to=bundle.train_layout)
    _, test = protocol_masks(data, part)
    x, y = data.x[test], data.labels[test]
    # names as typed; a bundle trained on descriptions looks them up as the app does, but never in the
    # held-out dataset's own description file (written knowing its classes)
    with StreamingRecognizer(bundle, ClassSet(names), device=device, exclude_descriptions=(held_out,)) as rec:
        logits = np.concatenate([rec.logits_of_inputs(x[i:i + 256]) for i in range(0, len(x), 256)])
    novel, cosine = novel_classes(names, bundle.class_set.names)
    top1, top5 = _topk(logits, y, 1), _topk(logits, y, 5)
    new = np.asarray(novel)[y]
    per_class = {n: {"clips": int((y == c).sum()), "top1": _pct(top1[y == c].mean()) if (y == c).any() else None,
                     "new": novel[c], "nearest_training_cosine": cosine[c]} for c, n in enumerate(names)}
    return {"held_out": held_out, "classes": len(names), "clips": int(len(y)), "chance_top1": _pct(1 / len(names)),
            "chance_top5": _pct(min(1.0, 5 / len(names))), "top1": _pct(top1.mean()), "top5": _pct(top5.mean()),
            "new_names": {"classes": int(sum(novel)), "clips": int(new.sum()),
                          "top1": _pct(top1[new].mean()) if new.any() else None,
                          "top5": _pct(top5[new].mean()) if new.any() else None},
            "per_class": per_class, "logits": logits, "labels": y}


def _pct(x: float) -> float:
    return round(100.0 * float(x), 2)


# --- calibration ----------------------------------------------------------------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: list[np.ndarray], labels: list[np.ndarray]) -> float:
    """The temperature minimising the mean negative log-likelihood over all clips of all folds given
    (a golden-section search over log T: the NLL is convex in 1/T)."""
    def nll(log_t: float) -> float:
        t = np.exp(log_t)
        total, count = 0.0, 0
        for z, y in zip(logits, labels):
            p = _softmax(z / t)[np.arange(len(y)), y]
            total += float(-np.log(np.maximum(p, 1e-12)).sum())
            count += len(y)
        return total / max(count, 1)

    lo, hi = np.log(0.02), np.log(50.0)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """ECE of the top answer's probability (equal-width bins), in percent."""
    p = _softmax(logits / temperature)
    conf, right = p.max(axis=1), p.argmax(axis=1) == labels
    bins = np.minimum((conf * ECE_BINS).astype(int), ECE_BINS - 1)
    err = sum(abs(conf[bins == b].mean() - right[bins == b].mean()) * (bins == b).mean()
              for b in range(ECE_BINS) if (bins == b).any())
    return _pct(err)


# --- a whole recipe -------------------------------------------------------------------------------------------


def run_recipe(recipe: str, folds: tuple[str, ...], out: Path, data_root: str | None, device: str,
               method: str | None = None, variant_name: str | None = None, variant: dict | None = None,
               quick: bool = False, log=print, train: bool = True) -> dict[str, Any]:
    """Every fold of one recipe (or one of its variants): trained if needed (unless ``train`` is False:
    then a fold never scored is left out), evaluated, calibrated."""
    from trainer.presets import recipe_document

    doc = recipe_document(recipe)
    method = method or doc.get("benchmark_method") or next(iter(doc["method_configs"]))
    variant = dict(variant or {})
    if quick:
        variant = _quick(doc, method, variant)
    root = out / recipe / (variant_name or "recipe")
    if quick:
        root = root.with_name(root.name + "_quick")
    folds_out = {}
    for held_out in folds:
        folder = root / held_out
        scores = folder / "zeroshot.npz"
        t0 = time.perf_counter()
        if not scores.exists() and not train:
            log(f"{recipe}{'/' + variant_name if variant_name else ''}: {held_out} not run yet")
            continue
        if not scores.exists():
            bundle = train_fold(doc, method, held_out, folder, data_root, device, variant)
            result = evaluate_fold(bundle, held_out, data_root, device)
            np.savez(scores, logits=result.pop("logits"), labels=result.pop("labels"))
            result["train_seconds"] = _train_seconds(folder / "run")
            (folder / "zeroshot.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        result = json.loads((folder / "zeroshot.json").read_text(encoding="utf-8"))
        with np.load(scores) as z:
            result["logits"], result["labels"] = z["logits"], z["labels"]
        folds_out[held_out] = result
        log(f"{recipe}{'/' + variant_name if variant_name else ''}: {held_out} top-1 {result['top1']:.2f} "
            f"top-5 {result['top5']:.2f} (chance {result['chance_top1']:.2f}; {time.perf_counter() - t0:.0f} s)")
    return summarise(recipe, method, variant_name, folds_out, quick)


def _train_seconds(run_dir: Path) -> float | None:
    try:
        stages = [json.loads(p.read_text()) for p in (run_dir / "stages").glob("*.json")]
    except (OSError, ValueError):
        return None
    return round(sum(float(s.get("seconds", 0.0)) for s in stages), 1)


def _quick(doc: dict, method: str, variant: dict) -> dict:
    """A variant with a quarter of the encoder epochs and of the method's cycles."""
    from engine.methods import load_method_config

    pretrain = {**doc["pretrain"], **doc.get("pretrain_overrides", {}).get(method, {}), **variant.get("pretrain", {})}
    out = {**variant, "pretrain": {**variant.get("pretrain", {}),
                                   "epochs": max(1, round(pretrain["epochs"] * QUICK_SHARE))}}
    _, config, _ = load_method_config(doc["method_configs"][method])
    epochs = {**config.to_dict(), **(doc.get("method_overrides", {}).get(method) or {}),
              **variant.get("method", {})}.get("epochs")
    if epochs:
        out["method"] = {**variant.get("method", {}), "epochs": max(1, round(epochs * QUICK_SHARE))}
    return out


def summarise(recipe: str, method: str, variant: str | None, folds: dict[str, dict], quick: bool) -> dict[str, Any]:
    names = list(folds)
    calibrated = {}
    for held_out in names:
        others = [h for h in names if h != held_out]
        t = fit_temperature([folds[h]["logits"] for h in others], [folds[h]["labels"] for h in others]) \
            if others else 1.0
        f = folds[held_out]
        calibrated[held_out] = {"temperature": round(t, 4),
                                "ece_before": expected_calibration_error(f["logits"], f["labels"]),
                                "ece_after": expected_calibration_error(f["logits"], f["labels"], t)}
    all_t = fit_temperature([folds[h]["logits"] for h in names], [folds[h]["labels"] for h in names]) \
        if names else 1.0
    rows = {h: {k: v for k, v in folds[h].items() if k not in ("logits", "labels")} | {"calibration": calibrated[h]}
            for h in names}
    new = [rows[h]["new_names"] for h in names if rows[h]["new_names"]["top1"] is not None]
    return {
        "recipe": recipe, "method": method, "variant": variant, "quick": quick, "folds": rows,
        "mean": {"top1": _mean(r["top1"] for r in rows.values()), "top5": _mean(r["top5"] for r in rows.values()),
                 "chance_top1": _mean(r["chance_top1"] for r in rows.values()),
                 "new_names_top1": _mean(n["top1"] for n in new), "new_names_top5": _mean(n["top5"] for n in new),
                 "ece_before": _mean(c["ece_before"] for c in calibrated.values()),
                 "ece_after": _mean(c["ece_after"] for c in calibrated.values())},
        "temperature_all_folds": round(all_t, 4),
        "train_seconds": round(sum(r.get("train_seconds") or 0 for r in rows.values()), 1),
    }


def _mean(values) -> float | None:
    v = [float(x) for x in values if x is not None]
    return round(sum(v) / len(v), 2) if v else None


# --- tables ---------------------------------------------------------------------------------------------------


def fold_table(summaries: list[dict]) -> str:
    """Held-out dataset per row, each recipe's top-1 / top-5 (and new names) side by side."""
    head = "| held-out dataset | classes | test clips | chance top-1 / top-5 |"
    rule = "|---|---|---|---|"
    for s in summaries:
        head += f" {_label(s)} top-1 / top-5 | new names top-1 |"
        rule += "---|---|"
    lines = [head, rule]
    folds = [h for h in FOLDS if any(h in s["folds"] for s in summaries)]
    for h in folds:
        r0 = next(s["folds"][h] for s in summaries if h in s["folds"])
        line = f"| {h} | {r0['classes']} | {r0['clips']} | {r0['chance_top1']:.1f} / {r0['chance_top5']:.1f} |"
        for s in summaries:
            r = s["folds"].get(h)
            if r is None:
                line += " | |"
                continue
            n = r["new_names"]
            new = "-" if n["top1"] is None else f"{n['top1']:.1f} ({n['classes']} classes)"
            line += f" {r['top1']:.1f} / {r['top5']:.1f} | {new} |"
        lines.append(line)
    chance = _mean(next(s["folds"][h] for s in summaries if h in s["folds"])["chance_top1"] for h in folds)
    line = f"| **mean** | | | {chance:.1f} |"
    for s in summaries:
        m = s["mean"]
        mark = "" if len(s["folds"]) == len(folds) else f" ({len(s['folds'])} folds)"
        line += (f" **{m['top1']:.1f} / {m['top5']:.1f}**{mark} | "
                 f"{'-' if m['new_names_top1'] is None else format(m['new_names_top1'], '.1f')} |")
    lines.append(line)
    common = [h for h in folds if all(h in s["folds"] for s in summaries)]
    if len(common) < len(folds) and common and len(summaries) > 1:
        line = f"| mean over the {len(common)} folds every recipe ran | | | |"
        for s in summaries:
            t1 = _mean(s["folds"][h]["top1"] for h in common)
            t5 = _mean(s["folds"][h]["top5"] for h in common)
            line += f" {t1:.1f} / {t5:.1f} | |"
        lines.append(line)
    return "\n".join(lines)


def ablation_table(full: dict, variants: list[dict]) -> str:
    """Each variant against the full recipe over the folds both ran (a variant still running has fewer)."""
    lines = ["| recipe | folds | mean top-1 | mean top-5 | change in top-1 | change in top-5 |",
             "|---|---|---|---|---|---|",
             f"| {_label(full)} (all levers) | {len(full['folds'])} | {full['mean']['top1']:.2f} | "
             f"{full['mean']['top5']:.2f} | | |"]
    for v in variants:
        common = [h for h in v["folds"] if h in full["folds"]]
        if not common:
            continue
        mean = {k: _mean(v["folds"][h][k] for h in common) for k in ("top1", "top5")}
        ref = {k: _mean(full["folds"][h][k] for h in common) for k in ("top1", "top5")}
        lines.append(f"| without {v['variant']} | {len(common)} | {mean['top1']:.2f} | {mean['top5']:.2f} | "
                     f"{mean['top1'] - ref['top1']:+.2f} | {mean['top5'] - ref['top5']:+.2f} |")
    return "\n".join(lines)


def calibration_table(s: dict) -> str:
    lines = ["| held-out dataset | temperature (other five folds) | ECE before | ECE after |", "|---|---|---|---|"]
    for h, r in s["folds"].items():
        c = r["calibration"]
        lines.append(f"| {h} | {c['temperature']:.3f} | {c['ece_before']:.1f} | {c['ece_after']:.1f} |")
    lines.append(f"| **mean** | {s['temperature_all_folds']:.3f} (all six) | {s['mean']['ece_before']:.1f} | "
                 f"{s['mean']['ece_after']:.1f} |")
    return "\n".join(lines)


def new_names_list(s: dict) -> str:
    parts = []
    for h, r in s["folds"].items():
        new = [f"{n} ({c['nearest_training_cosine']:.2f})" for n, c in r["per_class"].items() if c["new"]]
        parts.append(f"- {h}: " + (", ".join(new) if new else "none"))
    return "\n".join(parts)


def _label(s: dict) -> str:
    return s["recipe"] + (" (quick)" if s["quick"] else "")


MARK_START = "<!-- zsar bench zeroshot: start -->"
MARK_END = "<!-- zsar bench zeroshot: end -->"


def write_results(path: Path, text: str) -> None:
    """Replace the part of ``path`` between the markers (append it when they are absent)."""
    from engine.atomic import atomic_write_text

    body = f"{MARK_START}\n{text}\n{MARK_END}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if MARK_START in old and MARK_END in old:
        new = old[:old.index(MARK_START)] + body + old[old.index(MARK_END) + len(MARK_END):]
    else:
        new = old.rstrip("\n") + "\n\n" + body + "\n"
    atomic_write_text(path, new)


def report(summaries: list[dict], ablations: list[dict], reference: dict | None = None) -> str:
    newest = summaries[-1]
    reference = reference or newest
    out = [f"Command: `zsar bench zeroshot {' '.join('--recipe ' + s['recipe'] for s in summaries)}"
           f"{' --ablation' if ablations else ''}{' --quick' if newest['quick'] else ''}"
           f"{' --quick-ablation' if reference['quick'] and not newest['quick'] else ''}` "
           f"(training wall time of the last recipe's folds, summed: {newest['train_seconds'] / 60:.0f} min).",
           "", fold_table(summaries)]
    if ablations:
        out += ["", "Ablation: the last recipe with one lever switched off at a time (mean over the folds"
                    + (f"; every row at {int(QUICK_SHARE * 100)} % of the epochs" if reference["quick"] else "")
                    + ").", "", ablation_table(reference, ablations)]
    out += ["", f"Calibration of {_label(newest)}: a temperature fitted on the other five folds' held-out scores, "
                "expected calibration error (10 bins) of the top answer, in percent.", "", calibration_table(newest),
            "", f"New names (MiniLM cosine to the nearest training name below {NEW_NAME_COSINE}; the cosine in "
                "brackets):", "", new_names_list(newest)]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from engine.device import resolve_device
    from trainer.data.locations import default_data_root
    from trainer.presets import recipe_document

    root = args.data_root or default_data_root()
    root = str(root) if root else None
    device = str(resolve_device(args.device))
    recipes = args.recipe or ["zsar_default_v1", "zsar_default"]
    folds = tuple(args.fold or FOLDS)
    out = Path(args.out)
    log = (lambda *a: None) if args.json else (lambda msg: print(msg, flush=True))
    train = not args.report_only
    summaries = [run_recipe(r, folds, out, root, device, args.method, quick=args.quick, log=log, train=train)
                 for r in recipes]
    ablations, reference = [], summaries[-1]
    if args.ablation or args.quick_ablation:
        quick = args.quick or args.quick_ablation
        doc = recipe_document(recipes[-1])
        if quick and not args.quick:
            reference = run_recipe(recipes[-1], folds, out, root, device, args.method, quick=True, log=log,
                                   train=train)
        for name, variant in (doc.get("ablation") or {}).items():
            ablations.append(run_recipe(recipes[-1], folds, out, root, device, args.method, name, variant,
                                        quick, log, train))
    text = report(summaries, ablations, reference)
    if args.write:
        write_results(Path(args.write), text)
    if args.json:
        print(json.dumps({"recipes": summaries, "ablation": ablations}, indent=1))
    else:
        print(text)
    return 0
