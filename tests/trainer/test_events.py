"""Events cross a process boundary as JSON lines (RUN/events.jsonl): each reads back as its type."""

from __future__ import annotations

import json

import pytest

from trainer.events import EVENT_TYPES, EpochEnded, StepLogged, event_from_dict


def test_every_event_reads_back_from_its_jsonl_line():
    samples = [cls(stage="pretrain_encoder") for cls in EVENT_TYPES.values()]
    samples += [EpochEnded("fit_alignment:split", epoch=3, epochs=10, metrics={"val": 0.5}, seconds=1.5),
                StepLogged("pretrain_encoder", epoch=1, step=7, steps_per_epoch=20, losses={"ce": 0.25})]
    for event in samples:
        back = event_from_dict(json.loads(json.dumps(event.to_dict())))
        assert back == event and type(back) is type(event) and back.time == event.time
    # a newer writer's extra field is ignored; a line that is not an event is refused
    assert event_from_dict({"event": "RunFailed", "stage": "s", "message": "m", "hint": "x"}).message == "m"
    for bad in ({"event": "Nonsense"}, {"stage": "s"}, ["EpochEnded"]):
        with pytest.raises(ValueError):
            event_from_dict(bad)
