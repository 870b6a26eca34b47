"""The dependency direction app -> trainer -> engine, checked on the source (AST) and at run time.

engine imports neither trainer, app nor Qt; trainer never imports app or Qt; app never imports
torch directly (the GUI handles numpy arrays and dataclasses; models run behind services).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT = {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "superqt", "qtpy"}
FORBIDDEN = {
    "engine": {"trainer", "app"} | QT,
    "trainer": {"app"} | QT,
    "app": {"torch", "torchvision", "open_clip"},
}


def imported_top_levels(path: Path, package: str) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports stay inside the package
                found.add((package, node.lineno))
            elif node.module:
                found.add((node.module.split(".")[0], node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add((node.args[0].value.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction_in_source(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found for {package}"
    violations = [
        f"{f.relative_to(ROOT)}:{line} imports {mod}"
        for f in files
        for mod, line in imported_top_levels(f, package)
        if mod in FORBIDDEN[package]
    ]
    assert not violations, "\n".join(violations)


def test_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom PySide6 import QtCore\nimportlib.import_module('trainer.cli')\n")
    mods = {m for m, _ in imported_top_levels(bad, "engine")}
    assert {"PySide6", "trainer"} <= mods


def test_headless_packages_load_no_qt_at_run_time():
    code = (
        "import sys, engine.io, engine.skeleton.preprocess, engine.synth, trainer.cli, app.cli\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(QT)!r})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"Qt modules imported by headless code: {out.stdout}"


# Inside engine: the readers are numpy-only and know no models; skeleton geometry knows no models or
# readers; what saves and loads models, texts and poses never pulls the readers in (importing
# engine.io loads every format and scipy). Each entry: a file or package -> modules it must not import.
ENGINE_RULES = {
    "engine/io": ("torch", "engine.encoders", "engine.methods", "engine.text", "engine.bundle", "engine.pose"),
    "engine/skeleton": ("torch", "engine.encoders", "engine.methods", "engine.text", "engine.bundle", "engine.io"),
    "engine/text": ("engine.io",),
    "engine/pose": ("engine.io",),
    "engine/bundle.py": ("engine.io",),
    "engine/bundle_checks.py": ("engine.io",),
    "engine/atomic.py": ("engine",),
}


def imported_modules(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name, node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add((node.module, node.lineno))
    return found


def engine_rule_violations(root: Path) -> list[str]:
    out = []
    for target, banned in ENGINE_RULES.items():
        p = root / target
        files = [p] if p.suffix else sorted(p.rglob("*.py"))
        assert files and all(f.exists() for f in files), f"{target} not found: update ENGINE_RULES"
        for f in files:
            for mod, line in imported_modules(f):
                if any(mod == b or mod.startswith(b + ".") for b in banned):
                    out.append(f"{f.relative_to(root)}:{line} imports {mod}")
    return sorted(out)


def test_import_rules_inside_engine():
    violations = engine_rule_violations(ROOT)
    assert not violations, "\n".join(violations)


def test_engine_rule_checker_sees_a_violation(tmp_path):
    for target in ENGINE_RULES:
        dst = tmp_path / target
        if dst.suffix:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text("import os\n")
        else:
            dst.mkdir(parents=True, exist_ok=True)
            (dst / "ok.py").write_text("import numpy\n")
    (tmp_path / "engine/text/bad.py").write_text("from engine.io.bvh import read_bvh\n")
    (tmp_path / "engine/atomic.py").write_text("import engine.io\n")
    assert engine_rule_violations(tmp_path) == ["engine/atomic.py:1 imports engine.io",
                                                "engine/text/bad.py:1 imports engine.io.bvh"]


def test_saving_a_file_atomically_loads_no_reader():
    code = ("import sys, engine.atomic, engine.bundle\n"
            "print(sorted(m for m in sys.modules if m.startswith('engine.io')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
