"""Progress as plain-Python events (the project's style): frozen dataclasses sent to sinks.

The trainer never prints progress and never imports Qt. The CLI sends events to a
:class:`ConsoleSink` and a :class:`JsonlSink` (``RUN/events.jsonl``, one JSON object a line, which
the GUI's Trainer tab follows); tests collect them in a :class:`ListSink`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO


@dataclass(frozen=True)
class Event:
    stage: str
    # keyword-only, so that subclasses can take their own fields positionally after `stage`
    time: float = field(default_factory=time.time, compare=False, kw_only=True)

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class StageStarted(Event):
    detail: str = ""


@dataclass(frozen=True)
class StepLogged(Event):
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    losses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochEnded(Event):
    epoch: int = 0
    epochs: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class EvalReported(Event):
    zsl_top1: float | None = None
    gzsl_seen: float | None = None
    gzsl_unseen: float | None = None
    h_mean: float | None = None


@dataclass(frozen=True)
class StageFinished(Event):
    seconds: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class RunFailed(Event):
    message: str = ""


def event_from_dict(d: dict[str, Any]) -> Event:
    """The event a line of ``events.jsonl`` holds (the inverse of :meth:`Event.to_dict`).

    Fields the event type does not know are ignored and missing ones take their defaults, so a reader
    follows a run written by a slightly newer or older version.

    Raises:
        ValueError: not an event of a known type.
    """
    kind = d.get("event") if isinstance(d, dict) else None
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"not a known event: {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in d.items() if k in names}
    values.setdefault("stage", "")
    return cls(**values)


class EventSink(Protocol):
    def __call__(self, event: Event) -> None: ...


class ListSink:
    """Keeps every event (tests, and callers that want the history)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


class JsonlSink:
    """Appends one JSON object a line and flushes, so a follower sees each event at once and a
    killed run leaves every completed line intact."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        self._f.write(json.dumps(event.to_dict(), sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class ConsoleSink:
    """A one-line progress display on a terminal (stderr), plain lines when not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepLogged):
            if not self.tty:
                return
            done = event.step + 1
            frac = done / max(event.steps_per_epoch, 1)
            bar = "#" * int(20 * frac)
            loss = event.losses.get("loss")
            text = f"\r{event.stage} epoch {event.epoch + 1} [{bar:<20}] {done}/{event.steps_per_epoch}"
            self.stream.write(text + (f" loss {loss:.4f}" if loss is not None else ""))
        elif isinstance(event, EpochEnded):
            metrics = " ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
            self.stream.write(("\r" if self.tty else "") + f"{event.stage} epoch {event.epoch + 1}/{event.epochs} "
                              f"({event.seconds:.1f} s) {metrics}\n")
        elif isinstance(event, StageStarted):
            self.stream.write(f"{event.stage}: started {event.detail}\n")
        elif isinstance(event, StageFinished):
            self.stream.write(f"{event.stage}: done in {event.seconds:.1f} s {event.detail}\n")
        elif isinstance(event, EvalReported):
            parts = [f"{k} {getattr(event, k):.2f}" for k in ("zsl_top1", "gzsl_seen", "gzsl_unseen", "h_mean")
                     if getattr(event, k) is not None]
            self.stream.write(f"{event.stage}: " + ", ".join(parts) + "\n")
        elif isinstance(event, RunFailed):
            self.stream.write(f"{event.stage}: FAILED {event.message}\n")
        self.stream.flush()


class MultiSink:
    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def __call__(self, event: Event) -> None:
        for s in self.sinks:
            s(event)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (StageStarted, StepLogged, EpochEnded, EvalReported, StageFinished, RunFailed)
}
