"""GPQA-Diamond: 198 four-choice science questions.

Prompt: ``{Question}\\n\\nA) ..\\nB) ..\\nC) ..\\nD) ..`` with the four answers shuffled by an RNG
seeded per question (stable across runs and machines); the gold letter follows the shuffle.
Data: read straight from the official encrypted ``gpqa/dataset.zip`` under --data-dir (never
extracted to disk: the authors ask that questions not appear in plain text), or the gated hub
set ``Idavidrein/gpqa`` (config gpqa_diamond).
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

from budgetbench.errors import DataError
from budgetbench.tasks import Task, load_hub, require_fields
from budgetbench.types import Problem

HUB_ID = "Idavidrein/gpqa"
ZIP_MEMBER = "dataset/gpqa_diamond.csv"
ZIP_PASSWORD = b"deserted-untie-orchid"  # published by the GPQA authors
FIELDS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
SHUFFLE_SEED = 0


def read_zip(path: Path) -> list[dict]:
    if not path.is_file():
        raise DataError(f"GPQA zip {path} is missing: point --data-dir at a folder with gpqa/dataset.zip")
    try:
        with zipfile.ZipFile(path) as archive, archive.open(ZIP_MEMBER, pwd=ZIP_PASSWORD) as raw:
            return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    except RuntimeError as exc:  # zipfile: "Bad password for file"
        raise DataError(f"GPQA zip {path}: {exc} (expected the official password-protected dataset.zip)") from None
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise DataError(f"GPQA zip {path} is not the official dataset.zip ({type(exc).__name__})") from None


def to_problem(row: dict, seed: int = SHUFFLE_SEED) -> Problem:
    require_fields(row, (*FIELDS, "Record ID"), "gpqa_diamond")
    choices = [row[f].strip() for f in FIELDS[1:]]
    random.Random(f"gpqa:{seed}:{row['Record ID']}").shuffle(choices)
    gold = "ABCD"[choices.index(row["Correct Answer"].strip())]
    options = "\n".join(f"{letter}) {text}" for letter, text in zip("ABCD", choices))
    meta = {"domain": row.get("High-level domain"), "subdomain": row.get("Subdomain")}
    return Problem(row["Record ID"], f"{row['Question'].strip()}\n\n{options}", gold, meta)


def load(data_dir: Path | None) -> list[Problem]:
    rows = read_zip(data_dir / "gpqa" / "dataset.zip") if data_dir else load_hub(HUB_ID, "train", "gpqa_diamond")
    return [to_problem(row) for row in rows]


TASK = Task(
    name="gpqa_diamond",
    description="GPQA-Diamond, 4 choices shuffled per question",
    size=198,
    answer_kind="choice",
    hub_id=HUB_ID,
    local_path="gpqa/dataset.zip",
    load=load,
)
