"""How long ``make grade`` takes for a class: 20 students x 3 assignments = 60 submissions.

In a temporary copy of ``course/`` (nothing of the repository's course is touched): ``nbgrader
generate_assignment`` (``make student``), then students ``s01``..``s20`` hand in every
assignment, the odd ones the source notebooks (full marks), the even ones the releases
untouched (zero); then ``python -m minidl.lab.regrade --jobs JOBS`` (what ``make grade`` runs:
sandboxed execution, clean re-check, gradebook, feedback, grades.csv, the table) is timed.
It checks the grades (27/27 and 0/27) and prints the time, the jobs, the cores and the load;
``--write`` also appends that to ``benchmarks/grading.md``.
Usage: ``python benchmarks/grade_class.py [--students 20] [--jobs N] [--write]``.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from minidl.lab.course import build

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
GENERATED = ("release", "submitted", "autograded", "feedback", "gradebook.db", "grades.csv", ".nbgrader.log",
             "__pycache__", ".ipynb_checkpoints")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--write", action="store_true", help="append the result to benchmarks/grading.md")
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with tempfile.TemporaryDirectory(prefix="minidl-class-") as work:
        course = pathlib.Path(work) / "course"
        shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns(*GENERATED))
        build(course)                                   # source/ from the lab notebooks, as make student does
        subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "*", "--force"], cwd=course, env=env,
                       check=True, capture_output=True)
        assignments = sorted(p.name for p in (course / "source").iterdir() if p.is_dir())
        students = [f"s{k:02d}" for k in range(1, args.students + 1)]
        for k, student in enumerate(students):
            for a in assignments:
                shutil.copytree(course / ("source" if k % 2 == 0 else "release") / a,
                                course / "submitted" / student / a)
        load = os.getloadavg()[0]
        start = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "minidl.lab.regrade", ".", "--jobs", str(args.jobs)],
                                cwd=course, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - start
        if result.returncode != 0:
            sys.exit(f"make grade failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        with open(course / "grades.csv", newline="") as file:
            totals = {}
            for row in csv.DictReader(file):
                score, maximum = totals.get(row["student_id"], (0.0, 0.0))
                totals[row["student_id"]] = (score + float(row["score"]), maximum + float(row["max_score"]))
        wrong = [(s, totals.get(s)) for k, s in enumerate(students)
                 if totals.get(s, (None, None))[0] != (totals[s][1] if k % 2 == 0 else 0)]
        if wrong:
            sys.exit(f"wrong grades: {wrong}\n{result.stdout[-3000:]}")
    line = (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}: "
            f"make grade of {len(students) * len(assignments)} submissions ({len(students)} students x "
            f"{len(assignments)} assignments, half sources, half releases; grades checked) took {seconds:.0f} s "
            f"with {args.jobs} jobs on {os.cpu_count()} cores (load average {load:.1f} at the start)")
    print("\n".join(line for line in result.stdout.splitlines() if line.startswith(("grading ", "warning"))))
    print(line)
    if args.write:
        with open(ROOT / "benchmarks" / "grading.md", "a") as file:
            file.write(f"- {line}\n")


if __name__ == "__main__":
    main()
