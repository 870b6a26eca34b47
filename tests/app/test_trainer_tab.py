"""The Trainer tab runs ``zsar train`` as a subprocess and follows its events: a tiny preset to the
end with its results, "use this model" loading the run's bundle, and a failing run reported."""

from __future__ import annotations

import pytest

from trainer.events import EpochEnded


def _choose(tab, preset: str, method: str, out: str, data_root: str = "") -> None:
    tab.preset_box.setCurrentText(preset)
    tab.method_box.setCurrentText(method)
    tab.out_dir.setText(out)
    tab.data_root.setText(data_root)


def test_a_failing_run_shows_why_and_the_tab_stays_usable(fresh, qtbot, tmp_path):
    w = fresh
    tab = w.trainer_tab
    _choose(tab, "utd_mhad_split1", "sa_dvae", str(tmp_path / "run"), data_root=str(tmp_path / "no-data"))
    with qtbot.waitSignal(w.trainer_service.finished, timeout=120_000) as done:
        tab.start_button.click()
    assert done.args[0] == 1
    assert "training stopped" in w.message_bar.text and "no utd_mhad files" in w.message_bar.text
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()


@pytest.mark.slow
def test_cancel_stops_after_a_checkpoint_and_resume_runs_to_the_end_and_its_model_loads(fresh, qtbot, tmp_path):
    # One run serves both journeys (a cancelled run resumed, and a run to the end whose model is used):
    # a tiny preset trains for a minute, and a second run would test nothing the resume does not.
    w = fresh
    tab = w.trainer_tab
    w.tabs.setCurrentWidget(tab)
    run = tmp_path / "run"
    _choose(tab, "procedural_tiny", "contrastive", str(run))
    seen: list[dict] = []
    w.trainer_service.event_received.connect(seen.append)
    tab.start_button.click()
    assert tab.cancel_button.isEnabled() and not tab.start_button.isEnabled()
    qtbot.waitUntil(lambda: any(isinstance(e, EpochEnded) for e in seen), timeout=180_000)
    with qtbot.waitSignal(w.trainer_service.finished, timeout=60_000) as cancelled:
        tab.cancel_button.click()
    assert cancelled.args[0] == 130 and tab.progress.format().startswith("cancelled"), \
        (cancelled.args, tab.progress.format(), tab.log.toPlainText()[-1500:])
    assert any((run / "checkpoints").iterdir()) and not (run / "results.json").exists()  # stopped mid-run
    with qtbot.waitSignal(w.trainer_service.finished, timeout=300_000) as resumed:
        tab.resume_button.click()
    assert resumed.args[0] == 0, tab.log.toPlainText()[-2000:]
    w.trainer_service.event_received.disconnect(seen.append)
    assert (run / "results.json").exists()
    assert all(tab.stages.item(i).text().startswith("✓") for i in range(tab.stages.count()))
    figures = [tab.results.item(r, 0).text() for r in range(tab.results.rowCount())]
    assert figures[0] == "ZSL top-1" and "GZSL H" in figures
    assert any(name.startswith("split/") for name in tab.loss_plot.names())  # the method's losses, live
    assert tab.progress.format() == "done" and tab.use_button.isEnabled()
    with qtbot.waitSignal(w.recognizer.model_loaded, timeout=120_000) as loaded:
        tab.use_button.click()
    assert loaded.args[0].path == str(run / "model.zsar")
    assert w.model_label.text().startswith("model.zsar")
