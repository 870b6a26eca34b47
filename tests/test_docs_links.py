"""Every pointer into ``docs/`` from the code, configs and docs names a page that exists and, with an
``#anchor``, one of its headings; the repository stands on its own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_REF = re.compile(r"docs/([a-z_]+\.md)(?:#([a-z0-9-]+))?")
_LINK = re.compile(r"\]\(([a-z_]+\.md)?(?:#([a-z0-9-]+))?\)")


def _slug(heading: str) -> str:
    # GitHub's anchor rule: lower case, punctuation dropped, spaces to hyphens.
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", page.read_text(), re.M)}


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.split() if p.endswith((".py", ".json", ".md", ".sh", ".toml", ".txt"))]


def test_every_docs_reference_resolves():
    files = _tracked()
    assert files, "git ls-files found nothing"
    broken, seen = [], 0
    for f in files:
        if not f.exists():
            continue
        text = f.read_text(errors="replace")
        refs = [(m.group(1), m.group(2)) for m in _REF.finditer(text)]
        if f.parent.name == "docs" and f.parent.parent == ROOT:
            refs += [(m.group(1) or f.name, m.group(2)) for m in _LINK.finditer(text)]
        for page, anchor in refs:
            seen += 1
            target = ROOT / "docs" / page
            if not target.exists():
                broken.append(f"{f.relative_to(ROOT)}: docs/{page} does not exist")
            elif anchor and anchor not in _anchors(target):
                broken.append(f"{f.relative_to(ROOT)}: docs/{page} has no heading #{anchor}")
    assert seen > 50, f"only {seen} references found: the pattern no longer matches the code's pointers"
    assert not broken, "\n".join(sorted(set(broken)))
