"""A small --data-dir written by the tests: a handful of invented problems in each task's real schema.

The layout is what ``--data-dir`` expects (shared/data/README.md describes the real files):

    math500.jsonl        problem, solution, answer (LaTeX), subject, level (int), unique_id
    aime24.jsonl         id (int, 60-89), problem, solution, answer (string, leading zeros), url, question
    gpqa/dataset.zip     member dataset/gpqa_diamond.csv, ZipCrypto with the published password

Every problem here is invented for the tests; none comes from a benchmark. The GPQA rows in
particular are made-up questions, so no GPQA text is ever written anywhere.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.helpers.zipcrypto import write_encrypted_zip

GPQA_PASSWORD = b"deserted-untie-orchid"  # published by the GPQA authors for their dataset.zip
GPQA_MEMBER = "dataset/gpqa_diamond.csv"

# (subject, level, problem, answer): seven subjects, levels 1-5, answers in MATH-500's LaTeX styles.
MATH = [
    ("Algebra", 1, r"Solve for $x$: $3x + 5 = 20$.", "5"),
    ("Algebra", 2, r"What is the slope of the line through $(1, 2)$ and $(3, 10)$?", "4"),
    ("Algebra", 3, r"Simplify $\frac{x^2 - 9}{x - 3}$ for $x \neq 3$.", "x + 3"),
    ("Counting & Probability", 2, r"How many ways can 4 books be arranged in a row?", "24"),
    ("Counting & Probability", 4, r"Two fair dice are rolled. What is the probability that the sum is 7?",
     r"\frac{1}{6}"),
    ("Geometry", 2, r"A right triangle has legs 6 and 8. How long is its hypotenuse?", "10"),
    ("Geometry", 5, r"What is the area of a circle of radius $\sqrt{3}$?", r"3\pi"),
    ("Intermediate Algebra", 3, r"Find all real $x$ with $x^2 = 2x + 3$.", "-1, 3"),
    ("Intermediate Algebra", 5, r"Find the minimum of $x^2 - 4x + 7$ over the reals.", "3"),
    ("Number Theory", 1, r"What is the remainder when 100 is divided by 7?", "2"),
    ("Number Theory", 3, r"What is the greatest common divisor of 84 and 126?", "42"),
    ("Prealgebra", 1, r"Compute $\frac{2}{3} + \frac{1}{4}$.", r"\frac{11}{12}"),
    ("Prealgebra", 2, r"Write $0.375$ as a fraction in lowest terms.", r"\frac{3}{8}"),
    ("Precalculus", 2, r"Convert the point $(0, 3)$ in rectangular coordinates to polar coordinates.",
     r"\left( 3, \frac{\pi}{2} \right)"),
    ("Precalculus", 4, r"Compute $\cos 60^\circ$.", r"\frac{1}{2}"),
    ("Precalculus", 3, r"Which is the period of $\sin 2x$? (A) $\pi$ (B) $2\pi$ (C) $\frac{\pi}{2}$",
     r"\text{(A)}"),
]

# (id, problem, answer): ids 60-74 are AIME I, 75-89 AIME II, as in the real file.
AIME = [
    (60, "Find the number of positive divisors of 2024.", "016"),
    (61, "Find the remainder when $2^{10}$ is divided by 1000.", "024"),
    (62, "How many positive integers less than 100 are multiples of 4?", "024"),
    (63, "Find the sum of the first 20 positive odd integers.", "400"),
    (64, "Find $7 \\cdot 11 \\cdot 13$ modulo 1000.", "001"),
    (75, "A square has perimeter 100. Find its area modulo 1000.", "625"),
    (76, "Find the number of subsets of a 6-element set.", "064"),
    (77, "Find the least positive integer $n$ such that $n^2 > 500$.", "023"),
    (78, "Find $\\binom{10}{3}$.", "120"),
    (79, "Find the number of trailing zeros of $100!$.", "024"),
]

# (record id, domain, subdomain, question, correct, three incorrect): invented, not from GPQA.
GPQA = [
    ("recTestQ0000000001", "Physics", "Physics (general)",
     "An invented cart of mass 2 kg accelerates at 3 m/s^2. What net force acts on it?",
     "6 N", "5 N", "1.5 N", "9 N"),
    ("recTestQ0000000002", "Chemistry", "Chemistry (general)",
     "In this invented exercise, how many hydrogen atoms are in one molecule of methane?",
     "4", "2", "6", "1"),
    ("recTestQ0000000003", "Biology", "Molecular Biology",
     "In this invented exercise, which base pairs with adenine in DNA?",
     "Thymine", "Uracil", "Cytosine", "Guanine"),
    ("recTestQ0000000004", "Physics", "Electromagnetism and Photonics",
     "An invented resistor of 10 ohm carries 2 A. What voltage drops across it?",
     "20 V", "5 V", "12 V", "0.2 V"),
    ("recTestQ0000000005", "Chemistry", "Organic Chemistry",
     "In this invented exercise, what is the molecular formula of ethanol?",
     "C2H6O", "C2H4O2", "CH4O", "C3H8O"),
]

GPQA_COLUMNS = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                "Explanation", "Subdomain", "Writer's Difficulty Estimate", "Record ID", "High-level domain"]


def math500_rows() -> list[dict]:
    rows = []
    for n, (subject, level, problem, answer) in enumerate(MATH):
        slug = subject.lower().replace(" & ", "_").replace(" ", "_")
        rows.append({"problem": problem, "solution": f"Invented worked solution: $\\boxed{{{answer}}}$.",
                     "answer": answer, "subject": subject, "level": level,
                     "unique_id": f"test/{slug}/{100 + n}.json"})
    return rows


def aime24_rows() -> list[dict]:
    rows = []
    for id_, problem, answer in AIME:
        exam, number = ("I", id_ - 59) if id_ < 75 else ("II", id_ - 74)
        rows.append({"id": id_, "problem": problem, "solution": f"Invented solution. The answer is {int(answer)}.",
                     "answer": answer, "url": f"https://example.invalid/2024_AIME_{exam}_Problem_{number}",
                     "question": problem})
    return rows


def gpqa_csv() -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GPQA_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for record, domain, subdomain, question, correct, *wrong in GPQA:
        writer.writerow({"Question": question, "Correct Answer": correct, "Incorrect Answer 1": wrong[0],
                         "Incorrect Answer 2": wrong[1], "Incorrect Answer 3": wrong[2],
                         "Explanation": "Invented for the tests.", "Subdomain": subdomain,
                         "Writer's Difficulty Estimate": "Easy undergraduate level",
                         "Record ID": record, "High-level domain": domain})
    return out.getvalue().encode("utf-8")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_data_dir(root: Path) -> Path:
    """Write the three tasks' files under ``root`` (laid out for --data-dir) and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "math500.jsonl", math500_rows())
    write_jsonl(root / "aime24.jsonl", aime24_rows())
    write_encrypted_zip(root / "gpqa" / "dataset.zip", {GPQA_MEMBER: gpqa_csv()}, GPQA_PASSWORD)
    return root
