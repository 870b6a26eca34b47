"""``zsar evaluate RUN [RUN ...] [--json] [--group-by method|split]``: the results table of finished runs.

Each run folder holds ``results.json`` (written by the ``evaluate``
stage, docs/architecture.md#the-training-pipeline). The
table has one row per run (method, split, where the cycle was chosen, ZSL top-1, GZSL seen / unseen /
H) with the paper's numbers beneath where the run carries them, and, for the runs of one method on
the splits of one dataset family (``utd_mhad_split1..3``, see :func:`split_family`), a row with the
mean and the sample standard deviation (ddof=1) over those splits, as the ZSSAR papers report a mean
over 3 splits. A run whose cycle was chosen on the test set (``--select-on test``, as the public code
does) is marked ``*`` and never averaged with runs chosen on the validation fold.

A RUN may also be a parent folder: every folder below it holding ``results.json`` is a run. The
other mode (``--files DIR --labels L.csv [--bundle B]``: a bundle on labelled clips) is
:mod:`trainer.commands.evaluate_bundle`; label rows that name no file under DIR are counted
(``missing_count``), the first few named (``missing``) and warned about, and a labels file none of
whose files is there is an error.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.errors import ZsarError

RESULTS = "results.json"
GZSL_KEYS = ("seen", "unseen", "h")
TEST_FOOTNOTE = "* cycle chosen on the test set, as the public code does: not a clean zero-shot figure"

# ``..._split3``, ``..._split_3``: the index of one of several random splits of a dataset.
_SPLIT_INDEX = re.compile(r"^(.*?(?:^|_)split_?)\d+$")
# ``ntu60_synse_55_5``, ``pku51_star_39_12``: seen/unseen class counts, which name a different
# benchmark (55/5 vs 48/12), not one more draw of the same one.
_CLASS_COUNTS = re.compile(r"_\d+_\d+$")
_TRAILING_INDEX = re.compile(r"^(.+_)\d+$")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="the results table of finished runs (mean and std over splits), or a "
                                        "bundle's accuracy on a folder of labelled clips (--bundle/--files/--labels)")
    p.add_argument("runs", nargs="*", metavar="RUN",
                   help="a run folder holding results.json, or a folder of run folders")
    p.add_argument("--bundle", help="with --files: the bundle to evaluate (default: the embedded default model)")
    p.add_argument("--files", help="a folder of skeleton files (any supported format) to recognise")
    p.add_argument("--labels", help="with --files: a CSV of file name -> class name")
    p.add_argument("--actions", help='with --files: the class set, "a; b; ..." (default: the labels in the CSV)')
    p.add_argument("--plot", help="with --files: write a confusion-matrix image (.png)")
    p.add_argument("--device", default="auto", help="with --files: auto, cpu or cuda")
    p.add_argument("--json", action="store_true", help="print one JSON object: {runs: [...], groups: [...]}")
    p.add_argument("--markdown", action="store_true",
                   help="print the mean ± std rows as a Markdown table (a row per method and split family)")
    p.add_argument("--group-by", default="method", choices=("method", "split"),
                   help="order the table by method, then split family (default), or by split family, then "
                        "method (to compare methods on the same splits); the means are the same either way")
    p.set_defaults(func=run)


# -- grouping ---------------------------------------------------------------------------------------
def split_family(split: str) -> str:
    """The dataset family of a split name: the name with its split index replaced by ``*``.

    Runs of one method on the splits of one family are averaged together. The rule:

    * a trailing ``split<N>`` or ``split_<N>`` is an index: ``utd_mhad_split2`` -> ``utd_mhad_split*``,
      ``ntu60_smie_split_1`` -> ``ntu60_smie_split_*``;
    * two trailing numbers are seen/unseen class counts, not an index, and the name is its own family:
      ``ntu60_synse_55_5`` stays ``ntu60_synse_55_5`` (so 55/5 and 48/12 are never averaged);
    * otherwise a trailing ``_<N>`` is an index: ``mydata_3`` -> ``mydata_*``;
    * a name without an index is its own family.

    Args:
        split: a split name as in ``assets/splits`` (``config.split`` of a run).

    Returns:
        The family name, e.g. ``"utd_mhad_split*"``.
    """
    m = _SPLIT_INDEX.match(split)
    if m:
        return m.group(1) + "*"
    if _CLASS_COUNTS.search(split):
        return split
    m = _TRAILING_INDEX.match(split)
    return m.group(1) + "*" if m else split


def _natural_key(text: str) -> list[Any]:
    # split10 after split9, not between split1 and split2.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def mean_std(values: Iterable[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (ddof=1) of accuracies, rounded to 2 decimals as results.json is.

    Args:
        values: one accuracy (percent) per run.

    Returns:
        ``{"mean": m, "std": s}``; ``std`` is ``None`` for a single value (a sample std needs two).
    """
    values = list(values)
    std = statistics.stdev(values) if len(values) >= 2 else None
    return {"mean": round(statistics.fmean(values), 2), "std": None if std is None else round(std, 2)}


# -- reading runs -----------------------------------------------------------------------------------
def find_runs(paths: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """The run folders named on the command line, parent folders expanded.

    Args:
        paths: run folders (holding ``results.json``) or folders with run folders somewhere below.

    Returns:
        ``(runs, unfinished)``: the folders holding ``results.json`` in the order given (each once),
        and the folders below a parent that hold ``config.json`` but no ``results.json`` yet.

    Raises:
        ZsarError: a path that does not exist, is not a folder, or holds no run at all; a run folder
            named directly whose ``results.json`` is missing.
    """
    runs: list[Path] = []
    unfinished: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise ZsarError(f"{path}: no such run folder")
        if not path.is_dir():
            raise ZsarError(f"{path}: not a folder (give a run folder, which holds {RESULTS})")
        if (path / RESULTS).exists():
            runs.append(path)
            continue
        if (path / "config.json").exists():
            raise ZsarError(f"{path}: no {RESULTS} (the run has not finished its evaluate stage)")
        below = sorted((p.parent for p in path.rglob(RESULTS)), key=lambda p: _natural_key(str(p)))
        if not below:
            raise ZsarError(f"{path}: no {RESULTS} in this folder or any folder below it (not a run folder)")
        runs.extend(below)
        unfinished.extend(sorted(p.parent for p in path.rglob("config.json")
                                 if not (p.parent / RESULTS).exists()))
    # A run named twice (itself and through its parent) is one row, not two samples of the mean.
    unique: dict[Path, Path] = {}
    for r in runs:
        unique.setdefault(r.resolve(), r)
    return list(unique.values()), unfinished


def _number(value: Any, where: str, path: Path) -> float:
    # bool is an int to Python but never an accuracy; NaN passes json.loads but is no result either.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ZsarError(f"{path}: {where} is {json.dumps(value)}, not a number")
    return float(value)


def _paper(doc: Any) -> dict[str, Any]:
    # The paper's numbers are informative only: keep what is numeric and drop the rest silently.
    if not isinstance(doc, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(doc.get("zsl"), (int, float)) and not isinstance(doc.get("zsl"), bool):
        out["zsl"] = float(doc["zsl"])
    g = doc.get("gzsl")
    if isinstance(g, dict) and all(isinstance(g.get(k), (int, float)) for k in GZSL_KEYS):
        out["gzsl"] = {k: float(g[k]) for k in GZSL_KEYS}
    return out


def read_run(folder: Path) -> dict[str, Any]:
    """One run's row: its ``results.json`` reduced to what the table shows.

    Args:
        folder: a run folder holding ``results.json``.

    Returns:
        ``{"run", "method", "method_config_name", "split", "group", "selection", "test_selected",
        "selected_epoch", "zsl", "gzsl", "paper"}``: ``zsl`` is the top-1 accuracy, ``gzsl``
        ``{"seen", "unseen", "h"}`` or ``None``, ``paper`` ``{"zsl", "gzsl"}`` or ``{}``, in percent.

    Raises:
        ZsarError: ``results.json`` missing, not JSON, or without the fields the table needs.
    """
    path = folder / RESULTS
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ZsarError(f"{folder}: no {RESULTS} (the run has not finished its evaluate stage)") from None
    except UnicodeDecodeError:
        raise ZsarError(f"{path}: damaged (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise ZsarError(f"{path}: damaged (not valid JSON: {exc})") from None
    except OSError as exc:
        raise ZsarError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(doc, dict):
        raise ZsarError(f"{path}: damaged (a JSON object was expected)")
    config = doc.get("config")
    zsl = doc.get("zsl")
    held = doc.get("held_out_subjects")
    if zsl is None and isinstance(held, dict):
        raise ZsarError(f"{path}: a run with every class seen, so no zero-shot figures for this table "
                        f"(held-out subjects top-1 {held.get('top1')}%)")
    if not isinstance(config, dict) or not isinstance(zsl, dict):
        missing = "config" if not isinstance(config, dict) else "zsl"
        raise ZsarError(f"{path}: damaged (no {missing} object)")
    for key in ("method", "split"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise ZsarError(f"{path}: damaged (config.{key} is missing)")
    top1 = _number(zsl.get("top1"), "zsl.top1", path)
    g = doc.get("gzsl")
    if g is not None and not isinstance(g, dict):
        raise ZsarError(f"{path}: damaged (gzsl is neither an object nor null)")
    gzsl = None if g is None else {k: _number(g.get(k), f"gzsl.{k}", path) for k in GZSL_KEYS}
    selection = doc.get("selection") if isinstance(doc.get("selection"), dict) else {}
    on = selection.get("on") if isinstance(selection.get("on"), str) else "unknown"
    return {
        "run": str(folder),
        "method": config["method"],
        "method_config_name": config.get("method_config_name"),
        "split": config["split"],
        "group": split_family(config["split"]),
        "selection": on,
        "test_selected": on == "test",
        "selected_epoch": selection.get("selected_epoch"),
        "zsl": top1,
        "gzsl": gzsl,
        "paper": _paper(doc.get("paper")),
    }


# -- summarising ------------------------------------------------------------------------------------
def summarise(rows: list[dict[str, Any]], group_by: str = "method") -> dict[str, Any]:
    """Runs ordered for the table, and the mean and std of each (method, split family, selection).

    Runs chosen on the test set are a group of their own: averaging them with clean runs would hide
    the choice. GZSL statistics need every run of the group to have GZSL results; the paper's mean
    needs every run to carry the paper's numbers.

    Args:
        rows: from :func:`read_run`.
        group_by: ``"method"`` orders by method, then split family; ``"split"`` by family, then method.

    Returns:
        ``{"runs": [...], "groups": [{"method", "group", "selection", "test_selected", "n", "splits",
        "runs", "zsl": {"mean", "std"}, "gzsl": {"seen", "unseen", "h"} or None, "paper"}]}``.
    """
    def block(r: dict[str, Any]) -> tuple:
        outer = (r["method"], _natural_key(r["group"])) if group_by == "method" else (
            _natural_key(r["group"]), r["method"])
        return (*outer, r["test_selected"])

    ordered = sorted(rows, key=lambda r: (block(r), _natural_key(r["split"]), _natural_key(r["run"])))
    groups: list[dict[str, Any]] = []
    for r in ordered:
        if not groups or block(groups[-1]["_first"]) != block(r):
            groups.append({"_first": r, "members": []})
        groups[-1]["members"].append(r)
    out = []
    for g in groups:
        members = g["members"]
        first = members[0]
        gzsl = None
        # H is averaged as each run reports it (as the papers' tables do), not recomputed from the mean S, U.
        if all(m["gzsl"] for m in members):
            gzsl = {k: mean_std(m["gzsl"][k] for m in members) for k in GZSL_KEYS}
        paper: dict[str, Any] = {}
        if all("zsl" in m["paper"] for m in members):
            paper["zsl"] = mean_std(m["paper"]["zsl"] for m in members)["mean"]
        if all("gzsl" in m["paper"] for m in members):
            paper["gzsl"] = {k: mean_std(m["paper"]["gzsl"][k] for m in members)["mean"] for k in GZSL_KEYS}
        out.append({
            "method": first["method"],
            "group": first["group"],
            "selection": first["selection"],
            "test_selected": first["test_selected"],
            "n": len(members),
            "splits": len({m["split"] for m in members}),
            "runs": [m["run"] for m in members],
            "zsl": mean_std(m["zsl"] for m in members),
            "gzsl": gzsl,
            "paper": paper,
        })
    return {"runs": ordered, "groups": out}


# -- text -------------------------------------------------------------------------------------------
def _cell(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.2f}"


def _stat(s: dict[str, float | None] | None) -> str:
    if s is None:
        return "     -"
    return _cell(s["mean"]) + (" ± " + f"{s['std']:.2f}" if s["std"] is not None else "")


def _over(g: dict[str, Any]) -> str:
    # Two runs on one split (two seeds, say) are not "2 splits": say what was averaged.
    if g["splits"] == g["n"]:
        return f"mean ± std over {g['n']} splits"
    return f"mean ± std over {g['n']} runs on {g['splits']} splits"


def format_table(summary: dict[str, Any], unfinished: list[Path] = ()) -> str:
    """The results as a plain-text table (what ``zsar evaluate`` prints without ``--json``).

    Args:
        summary: from :func:`summarise`.
        unfinished: run folders found without ``results.json``, listed under the table.

    Returns:
        The table, its header and footnotes, without a trailing newline.
    """
    head = ["method", "split", "selected on", "ZSL top-1", "GZSL S", "GZSL U", "GZSL H", "run"]
    table: list[list[str] | None] = []  # None: a blank line between blocks

    def add_paper(paper: dict[str, Any], label: str) -> None:
        if paper:
            pg = paper.get("gzsl") or {}
            table.append(["", "", "  paper", _cell(paper.get("zsl")), *(_cell(pg.get(k)) for k in GZSL_KEYS),
                          label])

    runs = {r["run"]: r for r in summary["runs"]}
    for i, g in enumerate(summary["groups"]):
        if i:
            table.append(None)
        for name in g["runs"]:
            r = runs[name]
            gz = r["gzsl"] or {}
            table.append([r["method"], r["split"], r["selection"] + ("*" if r["test_selected"] else ""),
                          _cell(r["zsl"]), *(_cell(gz.get(k)) for k in GZSL_KEYS), r["run"]])
            add_paper(r["paper"], "")
        if g["n"] >= 2:
            gz = g["gzsl"] or {}
            table.append([g["method"], g["group"], g["selection"] + ("*" if g["test_selected"] else ""),
                          _stat(g["zsl"]), *(_stat(gz.get(k)) for k in GZSL_KEYS), _over(g)])
            add_paper(g["paper"], f"the paper's numbers, mean over the {g['splits']} splits")
    widths = [max(len(row[c]) for row in [head, *filter(None, table)]) for c in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    n = len(summary["runs"])
    lines = [
        f"{n} run{'s' * (n != 1)}, accuracies in percent. Mean ± std rows: the runs of one method on the "
        "splits of one family",
        "(utd_mhad_split1..3 -> utd_mhad_split*); std is the sample standard deviation (ddof=1).",
        "",
        line(head),
    ]
    lines += ["" if row is None else line(row) for row in table]
    if any(r["test_selected"] for r in summary["runs"]):
        lines += ["", TEST_FOOTNOTE]
    if unfinished:
        lines += ["", f"not finished (no {RESULTS}), left out: " + ", ".join(str(p) for p in unfinished)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.files or args.bundle or args.labels:
        return _run_bundle(args)
    if not args.runs:
        raise ZsarError("zsar evaluate needs RUN folders, or --files DIR --labels LABELS.csv [--bundle B]")
    folders, unfinished = find_runs(args.runs)
    summary = summarise([read_run(f) for f in folders], args.group_by)
    if args.json:
        print(json.dumps({**summary, "std": "sample standard deviation (ddof=1); null for a single run",
                          "unfinished": [str(p) for p in unfinished]}, indent=2))
    elif args.markdown:
        print(format_markdown(summary))
    else:
        print(format_table(summary, unfinished))
    return 0


def _run_bundle(args: argparse.Namespace) -> int:
    import sys

    from trainer.commands.evaluate_bundle import evaluate_bundle, format_text

    if not (args.files and args.labels):
        raise ZsarError("evaluating a bundle needs --files DIR and --labels LABELS.csv")
    r = evaluate_bundle(args.bundle, args.files, args.labels, args.actions, device=args.device, plot=args.plot)
    text = format_text(r)
    if r["missing_count"]:
        shown = r["missing"][:3]
        first = ", ".join(shown) + (", ..." if r["missing_count"] > len(shown) else "")
        print(f"zsar: warning: {r['missing_count']} of {r['label_rows']} rows of {args.labels} name no file under "
              f"{args.files}, left out (first: {first})", file=sys.stderr)
        text += f"\n  no file for {r['missing_count']} of {r['label_rows']} label rows (first: {first})"
    print(json.dumps(r, indent=2) if args.json else text)
    return 0


def format_markdown(summary: dict[str, Any]) -> str:
    """One Markdown row per (method, split family, selection): mean ± std over its runs, for
    documents such as ``docs/results.md``."""
    def stat(s: dict[str, float | None] | None) -> str:
        if s is None or s["mean"] is None:
            return "–"
        return f"{s['mean']:.2f}" + (f" ± {s['std']:.2f}" if s["std"] is not None else "")

    lines = ["| splits | method | selected on | runs | ZSL top-1 | GZSL S | GZSL U | GZSL H |",
             "|---|---|---|---|---|---|---|---|"]
    for g in summary["groups"]:
        gz = g["gzsl"] or {}
        lines.append(f"| {g['group']} | {g['method']} | {g['selection']}{' (test!)' if g['test_selected'] else ''} "
                     f"| {g['n']} | {stat(g['zsl'])} | " + " | ".join(stat(gz.get(k)) for k in GZSL_KEYS) + " |")
    return "\n".join(lines)
