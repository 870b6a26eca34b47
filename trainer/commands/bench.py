"""``zsar bench ...``: speed figures, printed, never asserted.

``zsar bench io``: sequences per second for reading every file of a dataset and for preprocessing
what was read, and the total (the foundation target: all 861 UTD-MHAD files read and preprocessed
in under 10 s on a 2-core CPU).
``zsar bench recognizer``: see :mod:`trainer.commands.bench_recognizer`.
``zsar bench train-step``: see :mod:`trainer.commands.bench_train`.
``zsar bench pose``: see :mod:`trainer.commands.bench_pose`.
``zsar bench zeroshot``: see :mod:`trainer.commands.bench_zeroshot` (accuracy, not speed: the
cross-dataset zero-shot benchmark).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from engine.io import open_skeleton_file
from engine.skeleton.preprocess import STYLES, PreprocessConfig, preprocess
from trainer.data.locations import DATASET_FILES, dataset_files


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="print figures: speed (io, recognizer, train-step, pose) and the "
                                     "zero-shot benchmark (zeroshot)")
    bench_sub = p.add_subparsers(dest="bench", metavar="WHAT", required=True)
    io = bench_sub.add_parser("io", help="reading and preprocessing throughput on a dataset")
    io.add_argument("--dataset", default="utd_mhad", choices=sorted(DATASET_FILES) + ["all"])
    io.add_argument("--data-root", help="folder holding the datasets (default: $ZSAR_DATA_ROOT or ../shared/data)")
    io.add_argument("--style", default="all", choices=list(STYLES) + ["all"], help="preprocessing style(s)")
    io.add_argument("--window", type=int, default=64, help="frames after preprocessing")
    io.add_argument("--json", action="store_true", help="print one JSON object")
    io.set_defaults(func=run_io)
    rec = bench_sub.add_parser("recognizer", help="per-window latency of the streaming recognizer, class-set switch")
    rec.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    rec.add_argument("--windows", type=int, default=40, help="timed windows per encoder (after 5 warm-up)")
    rec.add_argument("--encoder", action="append", help="encoder config name (default: every one in assets)")
    rec.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    rec.set_defaults(func=run_recognizer)
    ts = bench_sub.add_parser("train-step", help="training iterations per second of a method; --pipeline: whole run")
    ts.add_argument("--method", default="sa_dvae", help="method registry key (its <key>.ntu60_synse config) ...")
    ts.add_argument("--method-config", help="... or a method config name / path")
    ts.add_argument("--iterations", type=int, default=2500, help="iterations to time (rounded to whole epochs)")
    ts.add_argument("--pipeline", action="store_true",
                    help="also time embed_texts + fit_alignment + evaluate on synthetic NTU-60 55/5-scale features")
    ts.add_argument("--epochs", type=int, help="--pipeline: override the config's cycles")
    ts.add_argument("--device", default="cpu")
    ts.add_argument("--json", action="store_true", help="print one JSON object")
    ts.set_defaults(func=run_train_step)
    from trainer.commands import bench_pose, bench_zeroshot

    bench_pose.add_parser(bench_sub)
    bench_zeroshot.add_parser(bench_sub)


def bench_io(dataset: str, data_root: str | None, styles: list[str], window: int) -> dict[str, Any]:
    files = dataset_files(dataset, data_root)
    t0 = time.perf_counter()
    sequences = []
    for path in files:
        sequences.extend(open_skeleton_file(path))  # materialises every item, lazy ones too
    read_s = time.perf_counter() - t0
    frames = sum(s.num_frames for s in sequences)
    result: dict[str, Any] = {
        "dataset": dataset,
        "files": len(files),
        "sequences": len(sequences),
        "frames": frames,
        "read_s": read_s,
        "read_seq_per_s": len(sequences) / read_s,
        "preprocess": {},
    }
    for style in styles:
        config = PreprocessConfig(style=style, window=50 if style == "aimclr" else window)
        t0 = time.perf_counter()
        for s in sequences:
            preprocess(s.joints, config)
        dt = time.perf_counter() - t0
        result["preprocess"][style] = {"s": dt, "seq_per_s": len(sequences) / dt, "window": config.window}
    result["read_and_preprocess_s"] = read_s + max((p["s"] for p in result["preprocess"].values()), default=0.0)
    return result


def run_io(args: argparse.Namespace) -> int:
    # "all": the data that ships beside the project (not the user's NTU / PKU-MMD copy; Bandai once, both parts)
    skip = ("bandai_bvh", "bandai_namco1", "bandai_namco2", "ntu60", "ntu120", "pku51")
    datasets = [d for d in DATASET_FILES if d not in skip] if args.dataset == "all" \
        else [args.dataset]
    styles = list(STYLES) if args.style == "all" else [args.style]
    results = [bench_io(d, args.data_root, styles, args.window) for d in datasets]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
        return 0
    print(f"{'dataset':<11}{'files':>6}{'seqs':>7}{'frames':>9}{'read s':>9}{'read seq/s':>12}  preprocess seq/s")
    for r in results:
        pre = ", ".join(f"{k} {v['seq_per_s']:,.0f}" for k, v in r["preprocess"].items())
        print(
            f"{r['dataset']:<11}{r['files']:>6}{r['sequences']:>7}{r['frames']:>9}{r['read_s']:>9.2f}"
            f"{r['read_seq_per_s']:>12,.0f}  {pre}"
        )
        print(f"{'':<11}read + slowest preprocessing: {r['read_and_preprocess_s']:.2f} s")
    return 0


def run_recognizer(args: argparse.Namespace) -> int:
    from engine.device import resolve_device
    from trainer.commands.bench_recognizer import bench_recognizer, format_text

    r = bench_recognizer(str(resolve_device(args.device)), args.windows, args.encoder, args.threads)
    print(json.dumps(r, indent=2) if args.json else format_text(r))
    return 0


def run_train_step(args: argparse.Namespace) -> int:
    from engine.device import resolve_device
    from trainer.commands.bench_train import bench_pipeline, bench_steps, format_pipeline, format_steps

    device = str(resolve_device(args.device))
    name = args.method_config or _default_method_config(args.method)
    r: dict[str, Any] = {"steps": bench_steps(name, args.iterations, device=device)}
    if args.pipeline:
        r["pipeline"] = bench_pipeline(name, device=device, epochs=args.epochs)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(format_steps(r["steps"]))
        if args.pipeline:
            print(format_pipeline(r["pipeline"]))
    return 0


def _default_method_config(method: str) -> str:
    from engine.errors import ZsarError
    from engine.methods import method_config_names

    names = method_config_names()
    for candidate in (f"{method}.ntu60_synse", f"{method}.ntu60"):
        if candidate in names:
            return candidate
    own = [n for n in names if n.split(".")[0] == method]
    if own:
        return own[0]
    raise ZsarError(f"no method config for {method!r} in assets/configs/methods (known: {', '.join(names)})")
