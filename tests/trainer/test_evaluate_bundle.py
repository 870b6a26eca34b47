"""``zsar evaluate --bundle --files --labels``: the default model on a folder of labelled clips, one
process, unreadable files listed and counted without stopping the run."""

from __future__ import annotations

import json

import pytest

from engine import synth
from engine.errors import ZsarError
from engine.io import write_ntu_skeleton
from tests.trainer.conftest import assert_one_line_error, zsar
from trainer.commands.evaluate_bundle import read_labels

ACTIONS = ("wave right hand", "squat", "jump", "clap")
ABSENT = tuple(f"gone_{i}.skeleton" for i in range(12))


@pytest.fixture
def folder(tmp_path):
    clips = tmp_path / "clips"
    (clips / "more").mkdir(parents=True)
    rows = ["file,label"]
    for i, action in enumerate(ACTIONS):
        for seed in (0, 1):
            name = f"{action.replace(' ', '_')}_{seed}.skeleton"
            write_ntu_skeleton(synth.generate(action, seed=seed + 10 * i), clips / ("more" if seed else ".") / name)
            rows.append(f"{'more/' if seed else ''}{name},{action}")
    (clips / "broken.skeleton").write_text("12\n1\nnot numbers\n")
    rows.append("broken.skeleton,clap")
    (clips / "unlabelled.skeleton").write_text("anything")  # not in the CSV: ignored
    rows += [f"{name},squat" for name in ABSENT]  # in the CSV, not in the folder: counted and named
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return clips, tmp_path / "labels.csv"


def test_a_folder_of_labelled_clips_with_one_broken_file(folder, tmp_path):
    clips, labels = folder
    plot = tmp_path / "confusion.png"
    result = zsar("evaluate", "--files", str(clips), "--labels", str(labels), "--json", "--plot", str(plot),
                  timeout=300)
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert r["clips"] == 8 and r["scored"] == 8 and r["actions"] == list(ACTIONS)
    assert r["failed_count"] == 1 and "broken.skeleton" in r["failed"][0]["error"]
    # the rows whose files are not there: all counted, the first ten named, one line on stderr
    assert r["missing_count"] == 12 and r["missing"] == list(ABSENT[:10])
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "12 of 21 rows" in warning[0] and str(labels) in warning[0], result.stderr
    assert "gone_0.skeleton" in warning[0]
    assert 0 <= r["top1"] <= r["top5"] <= 100 and r["top5"] == 100.0  # 4 actions: top-5 holds them all
    assert {k: v["clips"] for k, v in r["per_class"].items()} == {a: 2 for a in ACTIONS}
    assert sum(map(sum, r["confusion_matrix"]["matrix"])) == 8
    assert plot.stat().st_size > 1000


def test_text_output_and_a_wider_class_set(folder):
    clips, labels = folder
    result = zsar("evaluate", "--files", str(clips), "--labels", str(labels), "--actions",
                  "; ".join(ACTIONS + ("kick", "bow", "sit down")), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "8 clips" in result.stdout and "against 7 actions" in result.stdout and "unreadable:" in result.stdout
    assert "no file for 12 of 21 label rows (first: gone_0.skeleton" in result.stdout


def test_labels_csv_errors_and_missing_arguments(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("file,label\na.skeleton\n")
    with pytest.raises(ZsarError, match="line 2"):
        read_labels(bad)
    (tmp_path / "plain.csv").write_text("a.skeleton,wave\nb.skeleton,clap\n")  # no header
    assert read_labels(tmp_path / "plain.csv") == {"a.skeleton": "wave", "b.skeleton": "clap"}
    assert_one_line_error(zsar("evaluate", "--files", str(tmp_path)), "--labels")
    assert_one_line_error(zsar("evaluate"), "RUN")


def test_missing_rows_match_files_as_the_evaluation_does(tmp_path):
    from trainer.commands.evaluate_bundle import missing_labelled_files

    (tmp_path / "a").mkdir()
    for name in ("a/x.skeleton", "y.skeleton", "z.skeleton"):
        (tmp_path / name).write_text("")
    labels = tmp_path / "labels.csv"  # by relative path, by name, by stem; and two that are not there
    labels.write_text("a/x.skeleton,wave\ny.skeleton,clap\nz,jump\nw.skeleton,clap\na/y.skeleton,clap\n")
    assert missing_labelled_files(tmp_path, labels) == (["w.skeleton", "a/y.skeleton"], 5)


def test_no_labelled_file_there_is_a_one_line_error_naming_the_labels(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "other.skeleton").write_text("anything")  # not in the CSV
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nnot_here.skeleton,clap\nnor_here.skeleton,squat\n")
    assert_one_line_error(zsar("evaluate", "--files", str(clips), "--labels", str(labels)),
                          str(labels), "none of its 2 labelled files", "not_here.skeleton")
