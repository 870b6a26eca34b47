"""The class set the Live and Files tabs recognise against: one action a line (``name: description``
gives a description), presets, import and export as text or JSON.

Edits apply by themselves shortly after typing stops (and at once with Apply); a set that does not
parse (a repeated name, nothing at all) is reported beside the editor and the previous set stays.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.types import ClassSet

# preset label -> class list in assets/classes (the model's own classes are added when a bundle loads)
PRESETS = {"NTU RGB+D 60": "ntu60", "NTU RGB+D 120": "ntu120", "PKU-MMD": "pku51",
           "everyday actions": "everyday_actions",
           "UTD-MHAD": "utd_mhad", "NW-UCLA": "nw_ucla", "Kinder-Gator": "kinder_gator", "MSRC-12": "msrc12",
           "HDM05 (subset)": "hdm05"}
MODEL_PRESET = "the model's training classes"
DEBOUNCE_MS = 600


def class_set_text(cs: ClassSet) -> str:
    return "\n".join(f"{n}: {cs.description(i)}" if cs.description(i) else n for i, n in enumerate(cs.names))


def read_class_set_file(path: str | Path) -> ClassSet:
    """A class set from a ``.json`` (``{"names": [...], "descriptions": [...]}`` or a list of names) or a
    text file (one action a line); ValueError naming the file otherwise."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read ({exc})") from None
    try:
        if p.suffix.lower() == ".json":
            doc = json.loads(text)
            return ClassSet(tuple(doc)) if isinstance(doc, list) else ClassSet.from_dict(doc)
        return ClassSet.parse(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{p}: not a class set ({exc})") from None


def write_class_set_file(cs: ClassSet, path: str | Path) -> None:
    from engine.atomic import atomic_write_text

    p = Path(path)
    atomic_write_text(p, json.dumps(cs.to_dict(), indent=2) + "\n" if p.suffix.lower() == ".json"
                      else class_set_text(cs) + "\n")


class ClassSetEditor(QWidget):
    class_set_changed = Signal(object)  # ClassSet

    def __init__(self, initial: ClassSet, parent=None) -> None:
        super().__init__(parent)
        self._class_set = initial
        self._model_classes: ClassSet | None = None
        self.presets = QComboBox()
        self.presets.addItem("presets…")
        self.presets.addItems(list(PRESETS))
        self.presets.activated.connect(self._preset_chosen)
        self.text = QPlainTextEdit(class_set_text(initial))
        self.text.setPlaceholderText("one action a line\nname: optional description")
        self.text.textChanged.connect(self._typed)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self._import)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._export)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Actions to recognise"))
        layout.addWidget(self.presets)
        layout.addWidget(self.text, 1)
        buttons = QHBoxLayout()
        for b in (self.apply_button, self.import_button, self.export_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self._show_count()

    @property
    def class_set(self) -> ClassSet:
        return self._class_set

    def set_model_classes(self, cs: ClassSet) -> None:
        """Offer the loaded model's training classes as a preset."""
        self._model_classes = cs
        if self.presets.findText(MODEL_PRESET) < 0:
            self.presets.addItem(MODEL_PRESET)

    def set_class_set(self, cs: ClassSet) -> None:
        self.text.setPlainText(class_set_text(cs))
        self.apply()

    def _typed(self) -> None:
        self._timer.start()

    def apply(self) -> None:
        self._timer.stop()
        try:
            cs = ClassSet.parse(self.text.toPlainText())
        except ValueError as exc:
            self.message.setText(f"not applied: {exc}")
            return
        if not cs.names:
            self.message.setText("not applied: type at least one action")
            return
        changed = cs != self._class_set
        self._class_set = cs
        self._show_count()
        if changed:
            self.class_set_changed.emit(cs)

    def _show_count(self) -> None:
        self.message.setText(f"{len(self._class_set)} actions")

    def _preset_chosen(self, index: int) -> None:
        label = self.presets.itemText(index)
        self.presets.setCurrentIndex(0)
        if label == MODEL_PRESET and self._model_classes is not None:
            self.set_class_set(self._model_classes)
        elif label in PRESETS:
            self.set_class_set(ClassSet.from_dataset(PRESETS[label]))

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import actions", "", "Class sets (*.txt *.json);;All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str | Path) -> None:
        try:
            self.set_class_set(read_class_set_file(path))
        except ValueError as exc:
            self.message.setText(str(exc))

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export actions", "actions.txt", "Text (*.txt);;JSON (*.json)")
        if path:
            try:
                write_class_set_file(self._class_set, path)
                self.message.setText(f"saved {path}")
            except OSError as exc:
                self.message.setText(f"{path}: cannot write ({exc})")
