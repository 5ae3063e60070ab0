"""``make grade``: every submission of the course graded in parallel, each in a sandbox, each
test cell's points confirmed by a clean re-check (``python -m minidl.lab.regrade [COURSE]
[--jobs N]``, from the course folder by default).

For each ``submitted/<student>/<assignment>/`` (already graded and unchanged: skipped):

1. **Sanitize** (main process): nbgrader's own preprocessors (``ClearOutput``,
   ``DeduplicateIds``, ``OverwriteKernelspec``, ``OverwriteCells``, ``CheckCellMetadata``) put
   the locked cells and hidden tests back from the source, as ``nbgrader autograde`` does.
2. **Re-check** (a worker, sandboxed): ``minidl.lab.recheck`` checks the submission's answer
   cells in a fresh Python process that the student's code cannot patch.
3. **Execute** (a worker, sandboxed): the notebook runs in a fresh kernel in a temporary folder,
   by ``minidl/lab/execute.py``; the executed notebook comes back through a pipe. A test cell
   whose re-check took ``RUN_ONCE_SECONDS`` or more (the training test of assignment 2) is not
   run a second time: the notebook shows the re-check's output and verdict, the one that
   counts (step 4), and the grader's notes say so.
4. **Record** (main process, one submission at a time): nbgrader's ``SaveAutoGrades`` writes
   the notebook's scores into ``gradebook.db``; a test cell keeps its points only if the
   re-check passed it too. Every disagreement, and every submission that could not be graded
   (its kernel died, it ran past the time limit: 0 points), is written to
   ``autograded/<student>/<assignment>/.minidl-grading.json`` and flagged in the table.

Why this shape: nbgrader's gradebook is one SQLite file, and parallel ``nbgrader autograde``
processes writing to it can fail with "database is locked"; and each ``nbgrader`` process
spends seconds importing itself. So the slow part, running the student's code (steps 2-3), is
done by ``--jobs`` workers in parallel, each in its own temporary folder, while this process
alone reads and writes the gradebook (steps 1 and 4), through nbgrader's own preprocessors.

**The sandbox** (Linux, bubblewrap's ``bwrap``): the kernel and the re-check see the file
system read-only, except their own temporary folder and a private ``/tmp``; the course folder
is hidden; no network (a private loopback only); their processes die with the grader. Each
process has a memory limit (``RLIMIT_AS``), each cell a time limit, each notebook one, all set
in ``course/nbgrader_config.py`` (``c.Execute.timeout``, ``c.Grading.notebook_timeout``,
``c.Grading.memory_limit_mb``). Without ``bwrap`` the grader says so once and grades anyway.

Then ``nbgrader generate_feedback`` (one process per assignment) and ``nbgrader export``, in
parallel (they only read the gradebook), and the table of ``minidl.lab.grading.grades_table``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import NamedTuple

if __name__ == "__main__":      # make grade: no rfc3987_syntax grammar (0.8 s) for a format nbformat never checks
    sys.modules.setdefault("rfc3987_syntax", None)

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning
from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, LimitOutput, OverwriteCells,
                                    OverwriteKernelspec, SaveAutoGrades)
from traitlets.config.loader import PyFileConfigLoader

from . import grading
from .grading import grades_table
from .mathml import render_math

RECORD = ".minidl-grading.json"
EXECUTE = pathlib.Path(__file__).with_name("execute.py")     # run as a script: see its docstring
ANSWERED = ".minidl-answered.json"  # the test cells the re-check ran, for execute.py: not run again
RUN_ONCE_SECONDS = 1.0              # a test cell whose re-check took this long runs once (the training test)
# the grader's code: minidl's (the checks compare with its layers) and this module's helpers
CODE = sorted(pathlib.Path(grading.__file__).resolve().parents[1].rglob("*.py"))
NO_SANDBOX = ("warning: bubblewrap (bwrap) is not available here: the submissions run WITHOUT a sandbox, with "
              "your user's rights and network (install Debian's bubblewrap to sandbox them); grading anyway")


class Settings(NamedTuple):
    cell_timeout: float       # s, per cell (and per check of the re-check)
    notebook_timeout: float   # s, per notebook (execution, and again the re-check)
    memory_limit_mb: int      # per process (RLIMIT_AS)


class Outcome(NamedTuple):
    student: str
    assignment: str
    fingerprint: str
    notebooks: dict           # notebook name -> {"executed": NotebookNode | None, "why": str, "recheck": dict}
    seconds: float


def load_settings(course: pathlib.Path) -> Settings:
    """The limits of ``course/nbgrader_config.py``."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    settings = Settings(float(config.Execute.get("timeout", 60)),
                        float(config.Grading.get("notebook_timeout", 600)),
                        int(config.Grading.get("memory_limit_mb", 4096)))
    if min(settings) <= 0:
        raise ValueError(f"{course / 'nbgrader_config.py'}: the time and memory limits must be positive, "
                         f"got {settings}")
    return settings


def sandbox_available() -> bool:
    """bwrap is installed and can make a sandbox here (user namespaces allowed)."""
    if shutil.which("bwrap") is None:
        return False
    result = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net", "--unshare-pid",
                             "true"], capture_output=True)
    return result.returncode == 0


def sandboxed(command: list[str], folder: pathlib.Path, course: pathlib.Path, settings: Settings,
              sandbox: bool) -> list[str]:
    """``command``, to run in ``folder``: in bubblewrap (if ``sandbox``), under a memory limit."""
    limited = ["prlimit", f"--as={settings.memory_limit_mb * 2**20}", "--", *command] \
        if shutil.which("prlimit") else command
    if not sandbox:
        return limited
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--tmpfs", str(course), *needed_read_only(), "--bind", str(folder), str(folder), "--unshare-net",
            "--unshare-pid", "--die-with-parent", "--new-session", "--chdir", str(folder), "--", *limited]


def needed_read_only() -> list[str]:
    """bwrap options that show again, read-only, what the sandboxed Python needs and the private
    /tmp or the hidden course could cover: the Python environment and the minidl package (a clone
    and its .venv under /tmp, as CI may make them)."""
    package = pathlib.Path(__file__).resolve().parents[1]
    paths = sorted({str(pathlib.Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)} | {str(package)})
    return [option for path in paths for option in ("--ro-bind", path, path)]


def run_reporting(command: list[str], folder: pathlib.Path, timeout: float) -> tuple[dict | None, str]:
    """Run ``command`` (its last argument is replaced by the number of a pipe it writes its JSON
    report to) in ``folder``, killed after ``timeout`` s: (the report or None, why not)."""
    read, write = os.pipe()
    env = {**os.environ, "HOME": "/tmp", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime", "IPYTHONDIR": "/tmp/ipython",
           "MPLCONFIGDIR": "/tmp/matplotlib", "NBGRADER_EXECUTION": "autograde", "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}      # one thread each: the jobs share the cores
    with open(folder / "grader.log", "wb") as log:
        process = subprocess.Popen([*command[:-1], str(write)], cwd=folder, env=env, pass_fds=(write,),
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    os.close(write)
    data, deadline = [], time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and select.select([read], [], [], left)[0]:
        chunk = os.read(read, 1 << 20)
        if not chunk:
            break
        data.append(chunk)
    os.close(read)
    timed_out = time.monotonic() >= deadline
    if timed_out:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if timed_out:
        return None, f"it ran past the time limit of {timeout:g} s per notebook"
    try:
        return json.loads(b"".join(data)), ""
    except ValueError:
        return None, f"it ended without a report (exit status {process.returncode})"


def fingerprint(course: pathlib.Path, student: str, assignment: str) -> str:
    """What a grade depends on: the submission, the source, the grader's code and settings."""
    digest = hashlib.sha256()
    folders = [course / "submitted" / student / assignment, course / "source" / assignment]
    files = [p for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]
    for path in files + CODE + [course / "nbgrader_config.py"]:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def submissions(course: pathlib.Path) -> list[tuple[str, str]]:
    """(student, assignment) of every submitted/<student>/<assignment>/ of a known assignment."""
    assignments = {p.name for p in (course / "source").iterdir() if p.is_dir()}
    submitted = course / "submitted"
    return sorted((s.name, a.name) for s in submitted.iterdir() if s.is_dir() for a in s.iterdir()
                  if a.is_dir() and a.name in assignments) if submitted.is_dir() else []


class Grader:
    """Grades a course's submissions: ``Grader(course).run(jobs)``; see the module docstring."""

    def __init__(self, course: pathlib.Path, *, out=sys.stdout) -> None:
        self.course, self.out = course.resolve(), out
        self.settings = load_settings(self.course)
        self.db_url = f"sqlite:///{self.course / 'gradebook.db'}"
        self.db_lock = threading.Lock()
        self.sandbox = sandbox_available()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # --- steps 1-3: in a worker thread ---------------------------------------------------------
    def sanitized(self, path: pathlib.Path, student: str, assignment: str):
        resources = {"nbgrader": {"notebook": path.stem, "assignment": assignment, "student": student,
                                  "db_url": self.db_url}}
        notebook = nbformat.read(path, 4)
        with self.db_lock:
            for step in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
                notebook, resources = step().preprocess(notebook, resources)
        return notebook

    def grade_notebook(self, source: pathlib.Path, submitted: pathlib.Path, student: str, assignment: str) -> dict:
        if not submitted.is_file():
            return {"executed": None, "why": f"no {submitted.name} handed in", "recheck": {}, "answered": []}
        python = sys.executable
        limit = self.settings.notebook_timeout
        with tempfile.TemporaryDirectory(prefix="minidl-grade-") as work:
            folder = pathlib.Path(work) / "run"
            # a link handed in stays a link (to a path the sandbox hides), its target is not copied
            shutil.copytree(submitted.parent, folder, symlinks=True, ignore=shutil.ignore_patterns(".*"))
            try:
                nbformat.write(self.sanitized(submitted, student, assignment), folder / submitted.name)
            except Exception as error:           # noqa: BLE001 (nbgrader rejects the notebook: it cannot be graded)
                return {"executed": None, "why": f"nbgrader cannot read it: {type(error).__name__}: {error}"[:500],
                        "recheck": {}, "answered": []}
            clean = pathlib.Path(work) / "recheck"
            clean.mkdir()
            shutil.copy(source, clean / "source.ipynb")
            shutil.copy(submitted, clean / "submitted.ipynb")
            command = [python, "-m", "minidl.lab.recheck", str(clean / "source.ipynb"),
                       str(clean / "submitted.ipynb"), str(self.settings.cell_timeout), "FD"]
            verdict, recheck_why = run_reporting(sandboxed(command, clean, self.course, self.settings, self.sandbox),
                                                 clean, limit)
            recheck = verdict or {"tests": {}, "answers": {}, "why": recheck_why}
            # the slow test cells, run once: the notebook shows the re-check's output and verdict
            answered = {grade_id: test for grade_id, test in recheck["tests"].items()
                        if test.get("seconds", 0) >= RUN_ONCE_SECONDS}
            (folder / ANSWERED).write_text(json.dumps(answered))
            command = [python, "-P", str(EXECUTE), str(folder / submitted.name),
                       str(self.settings.cell_timeout), str(folder / ANSWERED), "FD"]
            report, why = run_reporting(sandboxed(command, folder, self.course, self.settings, self.sandbox),
                                        folder, limit)
            executed = nbformat.reads(report["notebook"], 4) if report else None
            why = why or ("" if report["complete"] else f"the notebook did not run to its end: {report['why']}")
        return {"executed": executed, "why": why, "recheck": recheck, "answered": sorted(answered)}

    def grade_submission(self, student: str, assignment: str, stamp: str) -> Outcome:
        start = time.monotonic()
        notebooks = {}
        for source in sorted((self.course / "source" / assignment).glob("*.ipynb")):
            submitted = self.course / "submitted" / student / assignment / source.name
            notebooks[source.stem] = self.grade_notebook(source, submitted, student, assignment)
        return Outcome(student, assignment, stamp, notebooks, time.monotonic() - start)

    # --- step 4: in the main thread, one submission at a time --------------------------------------
    def record(self, outcome: Outcome) -> tuple[float, float, list[str]]:
        """Write an outcome into the gradebook and autograded/: (score, max score, flags)."""
        student, assignment = outcome.student, outcome.assignment
        dest = self.course / "autograded" / student / assignment
        if dest.exists():
            for path in dest.rglob("*"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        flags = []
        with self.db_lock, Gradebook(self.db_url) as gb, warnings.catch_warnings():
            # nbgrader's update_or_create_submission makes SQLAlchemy warn, harmlessly, about its objects
            warnings.simplefilter("ignore", SAWarning)
            gb.update_or_create_student(student)
            gb.update_or_create_submission(assignment, student)
            for name, result in outcome.notebooks.items():
                notebook = gb.find_submission_notebook(name, assignment, student)
                for grade in notebook.grades:                  # 0 unless shown otherwise below
                    grade.auto_score, grade.needs_manual_grade = 0, False
                gb.db.commit()
                executed, tests = result["executed"], result["recheck"].get("tests", {})
                resources = {"nbgrader": {"notebook": name, "assignment": assignment, "student": student,
                                          "db_url": self.db_url}}
                if executed is not None:
                    executed, resources = LimitOutput().preprocess(executed, resources)
                    if not result["why"]:
                        executed, resources = SaveAutoGrades().preprocess(executed, resources)
                if result["why"]:
                    flags.append(f"{name}: cannot be graded, 0 points: {result['why']}")
                if result["recheck"].get("why"):
                    flags.append(f"{name}: the clean re-check failed, 0 points: {result['recheck']['why']}")
                for answer, problem in result["recheck"].get("answers", {}).items():
                    flags.append(f"{name}: answer cell {answer} not run by the clean re-check: {problem}")
                gb.db.expire_all()
                for grade in gb.find_submission_notebook(name, assignment, student).grades:
                    clean = tests.get(grade.name, {"passed": False, "why": "no verdict"})
                    if grade.auto_score and not clean["passed"]:
                        flags.append(f"{name}: {grade.name}: the notebook passed, the clean re-check did not "
                                     f"({clean['why']}): 0 points")
                        grade.auto_score = 0
                    elif not grade.auto_score and clean["passed"] and not result["why"]:
                        flags.append(f"{name}: {grade.name}: the clean re-check passed, the notebook did not: "
                                     f"0 points")
                gb.db.commit()
                if executed is not None:
                    once = [f"- {grade_id}: run once, by the clean re-check (it took {tests[grade_id]['seconds']:.0f} "
                            f"s); the cell above shows its output and verdict" for grade_id in result["answered"]]
                    executed.cells.append(nbformat.v4.new_markdown_cell(
                        "**Grader's notes** (the clean re-check of your answer cells):\n\n" +
                        ("\n".join(f"- {flag}" for flag in flags) or "- it agrees with every test cell above") +
                        "".join(f"\n{line}" for line in once)))
                    nbformat.write(executed, dest / f"{name}.ipynb")
            submission = gb.find_submission(assignment, student)
            score, maximum = submission.score, submission.max_score
        (dest / RECORD).write_text(json.dumps({"fingerprint": outcome.fingerprint, "score": score,
                                               "max_score": maximum, "flags": flags}, indent=1))
        return score, maximum, flags

    def is_current(self, student: str, assignment: str, stamp: str) -> bool:
        path = self.course / "autograded" / student / assignment / RECORD
        try:
            return json.loads(path.read_text())["fingerprint"] == stamp
        except (OSError, ValueError, KeyError):
            return False

    def run(self, jobs: int) -> list[tuple[str, str]]:
        """Grade every submission not graded yet or changed since; the (student, assignment) graded."""
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        if not self.sandbox:
            self.say(NO_SANDBOX)
        todo = []
        for student, assignment in submissions(self.course):
            stamp = fingerprint(self.course, student, assignment)
            if self.is_current(student, assignment, stamp):
                self.say(f"{student} {assignment}: graded already, unchanged: skipped")
            else:
                todo.append((student, assignment, stamp))
        self.say(f"grading {len(todo)} submissions, {jobs} at a time"
                 f"{', each in a sandbox' if self.sandbox else ''}")
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = {pool.submit(self.grade_submission, *item): item for item in todo}
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                try:
                    outcome = future.result()
                except Exception as error:     # noqa: BLE001 (the grader's own failure on one submission: 0, flagged)
                    student, assignment, stamp = futures[future]
                    why = {"executed": None, "why": f"the grader failed: {type(error).__name__}: {error}",
                           "recheck": {}, "answered": []}
                    names = sorted(p.stem for p in (self.course / "source" / assignment).glob("*.ipynb"))
                    outcome = Outcome(student, assignment, "", {name: why for name in names}, 0.0)   # retried next time
                score, maximum, flags = self.record(outcome)
                self.say(f"[{done}/{len(todo)}] {outcome.student} {outcome.assignment}: {score:g}/{maximum:g} "
                         f"({outcome.seconds:.0f} s){'  ! ' + '; '.join(flags) if flags else ''}")
        return [(s, a) for s, a, _ in todo]


# nbgrader's own console script, with jsonschema's optional rfc3987_syntax kept out: importing it
# builds a grammar for the 'iri' format (0.8 s of CPU in each nbgrader process), a format no
# schema of nbgrader's is checked against
NBGRADER_MAIN = ("import sys; sys.modules['rfc3987_syntax'] = None; sys.argv[0] = 'nbgrader'; "
                 "from nbgrader.apps.nbgraderapp import main; sys.exit(main())")


def run_nbgrader(course: pathlib.Path, *args: str) -> tuple[int, str]:
    """An nbgrader command run to its end in ``course``, with this Python's bin/ first on PATH:
    (exit status, its output)."""
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = subprocess.run([sys.executable, "-c", NBGRADER_MAIN, *args], cwd=course, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process.returncode, process.stdout


def finish(course: pathlib.Path, jobs: int, out=sys.stdout) -> None:
    """Feedback (one nbgrader per assignment) and grades.csv (``nbgrader export``, which only
    reads the gradebook), ``jobs`` nbgrader processes at a time, a new one as soon as one ends;
    then the table. A notebook nbgrader cannot make feedback for (one that could not be graded)
    is reported, not fatal: the grades are in the gradebook already."""
    assignments = sorted({a for _, a in submissions(course)})
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        feedback = {a: pool.submit(run_nbgrader, course, "generate_feedback", a, "--force") for a in assignments}
        export = pool.submit(run_nbgrader, course, "export", "--to", "grades.csv")     # the shortest, last
        for assignment, future in feedback.items():
            returncode, log = future.result()
            if returncode != 0:
                errors = [line for line in log.splitlines() if "error processing assignment" in line]
                print(f"warning: nbgrader generate_feedback {assignment}: no feedback for some submissions:\n"
                      + "\n".join(errors[-20:]), file=out)
        returncode, log = export.result()
    offline_feedback(course, out)
    if returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{log[-3000:]}")
    print(grades_table(str(course / "grades.csv"), str(course / "submitted"), str(course / "autograded")), file=out)


def offline_feedback(course: pathlib.Path, out=sys.stdout) -> None:
    """Every feedback page's maths as MathML (``minidl.lab.mathml``), with no MathJax from a CDN:
    a student who opens it offline reads the formulas, not ``$...$``."""
    for page in sorted((course / "feedback").glob("*/*/*.html")):
        rendered = render_math(page.read_text())
        page.write_text(rendered.html)
        if rendered.failed:
            print(f"warning: {page.relative_to(course)}: {len(rendered.failed)} formulas left as TeX, e.g. "
                  f"{rendered.failed[0]!r}", file=out)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m minidl.lab.regrade", description=__doc__.splitlines()[0])
    parser.add_argument("course", nargs="?", default=".", help="the course folder (default: here)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at a time")
    args = parser.parse_args(argv)
    course = pathlib.Path(args.course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise SystemExit(f"error: {course} has no nbgrader_config.py: not a course folder")
    start = time.monotonic()
    Grader(course).run(args.jobs)
    finish(course, args.jobs)
    print(f"make grade: {time.monotonic() - start:.0f} s with {args.jobs} jobs on {os.cpu_count()} cores")


if __name__ == "__main__":
    main(sys.argv[1:])
