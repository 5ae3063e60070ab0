"""``make grade`` (minidl.lab.regrade) against cheating and vandalising submissions, with real
nbgrader, in a temporary copy of the course (cell time limit 10 s there, to keep the loop short).

Every cheat is handed in on assignment 1 beside an honest student (``solutions``, assignments 1
and 3: assignment 2's training test needs more than 10 s, and tests/test_course.py grades it): the cheat earns no point it did not earn, the others keep theirs, and the class
is graded to the end. The sandbox: a submission that writes outside its folder and connects to
a server this test runs on 127.0.0.1 does neither, and is graded.
"""
import io
import json
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid

import nbformat
import pytest

from minidl.lab.regrade import RECORD, Grader, finish, sandbox_available

pytestmark = pytest.mark.course

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
GENERATED = ("release", "submitted", "autograded", "feedback", "gradebook.db", "grades.csv", ".nbgrader.log",
             "__pycache__", ".ipynb_checkpoints")
HONEST = ["01_layers", "03_momentum_and_batches"]
SIGN_FLIP = ("self.grad_weight += g.T @ self.input", "self.grad_weight -= g.T @ self.input")
# a path outside the sandbox's private /tmp (the clone itself may lie under /tmp, where a write
# would land harmlessly in the sandbox's own /tmp instead of being refused)
OUTSIDE = (ROOT if not ROOT.is_relative_to("/tmp") else pathlib.Path.home()) / f"written-by-a-submission-{uuid.uuid4().hex}"
REBIND = "check_linear_forward = check_linear_backward = check_activation_backward = check_mse_gradient = " \
         "lambda *a, **k: None"
PATCH_GRADING = ("import minidl.lab.grading as grading\n"
                 "grading.expect_close = grading.expect_gradients = grading.expect_shape = lambda *a, **k: None")
PATCH_TORCH = "import torch\ntorch.Tensor.abs = lambda self: self.new_zeros(self.shape)"
SILENCE = ("ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
           "ip._showtraceback = lambda *a, **k: None\nip.showsyntaxerror = lambda *a, **k: None")


def cell(nb, grade_id):
    (found,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return found


def hand_in(course, student, base, edit):
    """course/submitted/<student>/01_layers/: the source ('solutions'), the release, or the source
    with a sign flipped in Linear.backward ('broken'), changed by ``edit(notebook)``."""
    folder = course / "submitted" / student / "01_layers"
    shutil.copytree(course / ("release" if base == "release" else "source") / "01_layers", folder)
    (path,) = folder.glob("*.ipynb")
    nb = nbformat.read(path, 4)
    if base == "broken":
        cell(nb, "linear").source = cell(nb, "linear").source.replace(*SIGN_FLIP)
    edit(nb)
    nbformat.write(nb, path)


def append(grade_id, code):
    def edit(nb):
        cell(nb, grade_id).source += "\n" + code
    return edit


def prepend(grade_id, code):
    def edit(nb):
        cell(nb, grade_id).source = code + "\n" + cell(nb, grade_id).source
    return edit


def delete_test_cell(nb):
    nb.cells.remove(cell(nb, "test_linear_backward"))


def edit_locked_cells(nb):
    cell(nb, "setup").source += "\n" + REBIND
    cell(nb, "test_linear_backward").source = "pass"


def vandal(port, course):
    code = (f"import pathlib, socket\n"
            f"for target in [pathlib.Path({str(OUTSIDE)!r}), pathlib.Path({str(course / 'vandalised')!r})]:\n"
            f"    try:\n        target.write_text('vandalised')\n        print('WROTE', target)\n"
            f"    except OSError as error:\n        print('write refused:', error)\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'leak')\n"
            f"    print('CONNECTED')\nexcept OSError as error:\n    print('connection refused:', error)\n")

    def edit(nb):
        nb.cells.append(nbformat.v4.new_code_cell(code))
    return edit


CHEATS = {   # student -> (base, edit, {test cell: points it must get} or the total it must get)
    "rebind": ("release", append("linear", REBIND), 0),
    "patch_grading": ("broken", append("linear", PATCH_GRADING), {"test_linear_backward": 0}),
    "patch_torch": ("broken", append("linear", PATCH_TORCH), {"test_linear_backward": 0}),
    "silence": ("release", append("linear", SILENCE), 0),
    "system_exit": ("release", prepend("linear", "raise SystemExit(0)"), 0),
    "os_exit": ("solutions", append("mse", "import os\nos._exit(0)"), 0),
    "delete_locked": ("broken", delete_test_cell, 8),
    "edit_locked": ("broken", edit_locked_cells, 8),
    "megabytes": ("solutions", append("mse", "print('x' * 5_000_000)"), 12),
    # a private torch module (torch._dynamo wraps torch's functions when imported): the cell does not run
    "private_import": ("broken", append("linear", "import torch._dynamo"),
                       {"test_linear_forward": 0, "test_linear_backward": 0, "test_relu_backward": 2}),
    "loop": ("solutions", prepend("activations", "while True:\n    pass"),
             {"test_relu_backward": 0, "test_tanh_backward": 0, "test_linear_forward": 2}),
}


class Listener:
    """A TCP server on 127.0.0.1, outside the sandbox, that counts what it receives."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.port, self.connections, self.stop = self.socket.getsockname()[1], 0, False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("regrade") / "course"
    shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns(*GENERATED))
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.Execute.timeout = 60", "c.Execute.timeout = 10"))
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "*", "--force"], cwd=course, check=True,
                   capture_output=True, env=env)
    for a in HONEST:
        shutil.copytree(course / "source" / a, course / "submitted" / "solutions" / a)
    for student, (base, edit, _) in CHEATS.items():
        hand_in(course, student, base, edit)
    hand_in(course, "garbage", "solutions", lambda nb: None)
    (path,) = (course / "submitted" / "garbage" / "01_layers").glob("*.ipynb")
    path.write_text("{ not a notebook")
    listener = Listener()
    hand_in(course, "vandal", "solutions", vandal(listener.port, course))
    out = io.StringIO()
    graded = Grader(course, out=out).run(2)
    finish(course, 2)
    listener.stop = True
    yield course, graded, out.getvalue(), listener
    OUTSIDE.unlink(missing_ok=True)


def scores(course, student, assignment="01_layers"):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(assignment, student)
        return {g.name: g.score for nb in submission.notebooks for g in nb.grades}


def record(course, student, assignment="01_layers"):
    return json.loads((course / "autograded" / student / assignment / RECORD).read_text())


def test_every_submission_is_graded_and_the_honest_student_keeps_full_marks(graded):
    course, done, out, _ = graded
    assert len(done) == len(HONEST) + len(CHEATS) + 2, out
    for a in HONEST:
        rec = record(course, "solutions", a)
        assert rec["score"] == rec["max_score"] > 0 and not rec["flags"], (a, rec)
    assert (course / "grades.csv").is_file()
    for student in CHEATS:
        assert list((course / "feedback" / student / "01_layers").glob("*.html")), student


def test_feedback_pages_need_no_network(graded):
    """Their maths is MathML (no MathJax from a CDN, no raw $...$): readable offline."""
    course = graded[0]
    pages = sorted((course / "feedback").glob("*/*/*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        assert "<math" in text, page
        assert not re.search(r"<script[^>]*src=\"https?://", text), f"{page}: a script from the network"
        loader = re.search(r".{0,80}(<script[^>]*mathjax|MathJax\.Hub|MathJax\.js).{0,80}", text, re.I | re.S)
        assert loader is None, f"{page}: MathJax is still loaded: {loader.group(0)!r}"


@pytest.mark.parametrize("student", CHEATS)
def test_a_cheat_earns_no_point_it_did_not_earn(graded, student):
    course, _, out, _ = graded
    expected = CHEATS[student][2]
    got = scores(course, student)
    if isinstance(expected, dict):
        assert {name: got[name] for name in expected} == expected, (got, record(course, student)["flags"])
    else:
        assert sum(got.values()) == expected, (got, record(course, student)["flags"])


def test_a_cheat_that_fools_the_notebook_is_flagged(graded):
    course, *_ = graded
    flags = record(course, "rebind")["flags"]
    assert any("test_linear_forward: the notebook passed, the clean re-check did not" in f for f in flags), flags
    assert any("answer cell linear not run by the clean re-check" in f and "check_linear_forward" in f
               for f in flags), flags
    assert any("cannot be graded" in f for f in record(course, "os_exit")["flags"])


def test_a_notebook_that_cannot_be_read_gets_zero_and_says_why(graded):
    course, *_ = graded
    rec = record(course, "garbage")
    assert rec["score"] == 0 and rec["max_score"] == 12
    assert any("cannot be graded, 0 points: nbgrader cannot read it" in f for f in rec["flags"]), rec


def test_megabytes_of_output_are_cut(graded):
    course, *_ = graded
    (path,) = (course / "autograded" / "megabytes" / "01_layers").glob("*.ipynb")
    assert path.stat().st_size < 500_000


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap (bwrap) cannot make a sandbox here")
def test_the_sandbox_stops_writes_outside_and_the_network_and_the_submission_is_graded(graded):
    course, _, _, listener = graded
    assert not OUTSIDE.exists() and not (course / "vandalised").exists()    # the course is hidden from it
    assert listener.connections == 0
    assert sum(scores(course, "vandal").values()) == 12
    (path,) = (course / "autograded" / "vandal" / "01_layers").glob("*.ipynb")
    printed = "".join(o.get("text", "") for c in nbformat.read(path, 4).cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "write refused" in printed and "connection refused" in printed
    assert f"WROTE {OUTSIDE}" not in printed and "CONNECTED" not in printed


def test_a_second_run_skips_what_is_graded_and_unchanged(graded):
    course, *_ = graded
    out = io.StringIO()
    assert Grader(course, out=out).run(2) == []
    assert "graded already, unchanged: skipped" in out.getvalue()


def test_the_training_test_runs_once_and_the_notebook_shows_the_rechecks_output_and_verdict(tmp_path):
    """Assignment 2's training test takes seconds: the clean re-check runs it, the notebook shows
    the re-check's output (passed) or message (failed) under the cell's own source, and the
    points are the same as if it had run twice."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns(*GENERATED))
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "02_training", "--force"], cwd=course,
                   check=True, capture_output=True, env={"PATH": f"{BIN}:/usr/bin:/bin"})
    for student in ("solutions", "no_zero_grad"):
        shutil.copytree(course / "source" / "02_training", course / "submitted" / student / "02_training")
    (path,) = (course / "submitted" / "no_zero_grad" / "02_training").glob("*.ipynb")
    nb = nbformat.read(path, 4)
    assert cell(nb, "train").source.count("model.zero_grad()\n") == 1
    cell(nb, "train").source = cell(nb, "train").source.replace("model.zero_grad()\n", "pass\n")
    nbformat.write(nb, path)
    Grader(course, out=io.StringIO()).run(2)
    good, bad = record(course, "solutions", "02_training"), record(course, "no_zero_grad", "02_training")
    assert good["score"] == good["max_score"] == 8 and not good["flags"], good
    assert scores(course, "no_zero_grad", "02_training") == {"test_gradient_step": 2, "test_algorithm_1": 0,
                                                            "test_training_accuracy": 0}
    assert not bad["flags"], bad                  # the notebook and the re-check agree: no disagreement
    source = cell(nbformat.read(path, 4), "test_training_accuracy").source
    for student in ("solutions", "no_zero_grad"):
        (graded_path,) = (course / "autograded" / student / "02_training").glob("*.ipynb")
        graded_nb = nbformat.read(graded_path, 4)
        training = cell(graded_nb, "test_training_accuracy")
        assert training.source == source                # its own source, not the stand-in's
        assert "run once, by the clean re-check" in graded_nb.cells[-1].source
        outputs = training.outputs
        if student == "solutions":
            assert re.fullmatch(r"test accuracy after 35 epochs: 0\.9\d\d\n", outputs[0]["text"]), outputs
        else:
            (error,) = [o for o in outputs if o["output_type"] == "error"]
            assert error["ename"] == "AssertionError" and "train" in error["evalue"], error
