"""A message strip at the top of the window: errors and notices that do not block (no modal box),
so the window stays usable and tests can read what the user was told."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

STYLES = {"error": "background:#5a1d1d;color:#ffdede;padding:6px;",
          "info": "background:#1d3a5a;color:#e0f0ff;padding:6px;"}


class MessageBar(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        close = QPushButton("×")
        close.setFixedWidth(28)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.label.setText(text)
        self.label.setStyleSheet(STYLES.get(kind, STYLES["info"]))
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() or self.label.text() else ""
