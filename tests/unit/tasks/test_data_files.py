"""The data folder the tests write (tests/helpers/data.py) loads like the real one, and has its schema.

The first group runs everywhere. The second checks the written files against the real benchmark
files and runs only where those are beside the repository (CI puts shared/ there): it keeps the
written schema honest without ever copying a benchmark row.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from budgetbench.errors import DataError
from budgetbench.grading import check_gold
from budgetbench.tasks import get_task
from tests.helpers.data import GPQA_COLUMNS, GPQA_MEMBER, GPQA_PASSWORD, aime24_rows, math500_rows, write_data_dir
from tests.helpers.zipcrypto import write_encrypted_zip

TASKS = ("math500", "aime24", "gpqa_diamond")


@pytest.mark.parametrize("name,count", [("math500", 16), ("aime24", 10), ("gpqa_diamond", 5)])
def test_the_written_problems_load_through_each_task(data_dir, name, count):
    task = get_task(name)
    problems = task.load(data_dir)
    assert len(problems) == count and len({p.id for p in problems}) == count
    for p in problems:
        check_gold(p.gold, task.answer_kind)  # every gold is readable by the task's grading
        assert p.question.strip()


def test_the_written_rows_have_the_documented_types(data_dir):
    math = [json.loads(line) for line in (data_dir / "math500.jsonl").read_text().splitlines()]
    assert {r["subject"] for r in math} == {"Algebra", "Counting & Probability", "Geometry", "Intermediate Algebra",
                                             "Number Theory", "Prealgebra", "Precalculus"}
    assert {r["level"] for r in math} == {1, 2, 3, 4, 5}
    aime = [json.loads(line) for line in (data_dir / "aime24.jsonl").read_text().splitlines()]
    assert all(isinstance(r["id"], int) and 60 <= r["id"] <= 89 for r in aime)
    assert all(isinstance(r["answer"], str) and len(r["answer"]) == 3 for r in aime)
    assert any(r["answer"].startswith("0") for r in aime)  # leading zeros, as in the real file
    assert {p.metadata["exam"] for p in get_task("aime24").load(data_dir)} == {"I", "II"}


def test_the_written_gpqa_zip_is_encrypted_like_the_real_one(data_dir):
    with zipfile.ZipFile(data_dir / "gpqa" / "dataset.zip") as archive:
        info = archive.getinfo(GPQA_MEMBER)
        assert info.flag_bits & 0x1 and info.compress_type == zipfile.ZIP_DEFLATED  # ZipCrypto, deflated
        with pytest.raises(RuntimeError, match="password required"):
            archive.read(GPQA_MEMBER)
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open(GPQA_MEMBER, pwd=GPQA_PASSWORD), encoding="utf-8")))
    assert len(rows) == 5 and list(rows[0]) == GPQA_COLUMNS


def test_a_zip_with_another_password_is_one_data_error(tmp_path):
    write_encrypted_zip(tmp_path / "gpqa" / "dataset.zip", {GPQA_MEMBER: b"Question\nq\n"}, b"not-the-password")
    with pytest.raises(DataError, match="Bad password"):
        get_task("gpqa_diamond").load(tmp_path)


def test_writing_twice_gives_the_same_bytes(tmp_path):
    a, b = write_data_dir(tmp_path / "a"), write_data_dir(tmp_path / "b")
    for name in ("math500.jsonl", "aime24.jsonl", "gpqa/dataset.zip"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# --- against the real files (skip where shared/data is not beside the repository) --------------


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name,written", [("math500.jsonl", math500_rows), ("aime24.jsonl", aime24_rows)])
def test_the_written_jsonl_has_the_real_files_fields_and_types(shared_data_dir, name, written):
    real = _jsonl(shared_data_dir / name)
    schema = lambda row: {k: type(v).__name__ for k, v in row.items()}  # noqa: E731
    assert {json.dumps(schema(r)) for r in real} == {json.dumps(schema(r)) for r in written()}


def test_the_written_gpqa_zip_has_the_real_member_columns_and_encryption(shared_data_dir):
    with zipfile.ZipFile(shared_data_dir / "gpqa" / "dataset.zip") as archive:
        info = archive.getinfo(GPQA_MEMBER)
        assert info.flag_bits & 0x1 and info.compress_type == zipfile.ZIP_DEFLATED
        with archive.open(GPQA_MEMBER, pwd=GPQA_PASSWORD) as raw:
            header = next(csv.reader(io.TextIOWrapper(raw, encoding="utf-8")))  # column names only
    assert set(GPQA_COLUMNS) <= set(header)


@pytest.mark.parametrize("name", TASKS)
def test_the_real_files_have_the_declared_sizes(shared_data_dir, name):
    task = get_task(name)
    problems = task.load(shared_data_dir)
    assert len(problems) == task.size and len({p.id for p in problems}) == task.size
    for p in problems:
        check_gold(p.gold, task.answer_kind)
