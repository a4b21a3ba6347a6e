"""The public resume dataset (../shared/data/resumes) as people: one per distinct resume
text, named by the 0-based CSV row of that text's first occurrence.

The file is not valid UTF-8 throughout: bullets lost their middle byte somewhere
upstream (``e2 ? a2``). It is read with ``errors="replace"`` (as the evaluation sets
say), and what that leaves of a bullet becomes a bullet again. The ``Category`` column
is the evaluation label: it is returned for evaluations and never uploaded.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "data" / "resumes" / "UpdatedResumeDataSet.csv"
_BROKEN_BULLET = re.compile("\ufffd\\?\ufffd|\ufffd\ufffd\ufffd|\ufffd")


@dataclass(frozen=True)
class Resume:
    row: int  # the first CSV row (0-based, csv.DictReader order) holding this text
    category: str  # the evaluation label: never stored by the demo
    text: str

    @property
    def slug(self) -> str:
        return f"resume-{self.row:03d}"

    @property
    def filename(self) -> str:
        return f"{self.slug}.txt"


def clean(text: str) -> str:
    return _BROKEN_BULLET.sub("•", text).strip()


def read(path: Path = DATASET) -> list[Resume]:
    """The distinct resumes, in order of their first row."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the resume dataset is not there")
    seen: set[str] = set()
    out: list[Resume] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        for row, record in enumerate(csv.DictReader(f)):
            raw = record["Resume"]
            if raw in seen:
                continue
            seen.add(raw)
            text = clean(raw)
            if text:
                out.append(Resume(row, record["Category"], text))
    return out
