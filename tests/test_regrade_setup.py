"""minidl.lab.regrade's set-up, without grading anything: the limits come from the course's
nbgrader_config.py, the sandbox's command, and one clear warning where there is no sandbox."""
import io
import pathlib
import shutil

import pytest

from minidl.lab import regrade
from minidl.lab.regrade import NO_SANDBOX, Grader, Settings, load_settings, sandboxed

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_limits_are_the_course_configs():
    settings = load_settings(ROOT / "course")
    assert settings == Settings(cell_timeout=60.0, notebook_timeout=600.0, memory_limit_mb=4096)


def test_a_limit_that_is_not_positive_is_refused(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 0\n")
    with pytest.raises(ValueError, match="must be positive"):
        load_settings(tmp_path)


def test_the_sandbox_hides_the_course_and_the_network_and_binds_only_its_folder(tmp_path):
    settings = Settings(60.0, 600.0, 1024)
    command = sandboxed(["python", "x"], tmp_path / "run", tmp_path / "course", settings, True)
    assert command[0] == "bwrap"
    for option in (["--unshare-net"], ["--unshare-pid"], ["--die-with-parent"], ["--ro-bind", "/", "/"],
                   ["--tmpfs", str(tmp_path / "course")], ["--bind", str(tmp_path / "run"), str(tmp_path / "run")]):
        assert any(command[k:k + len(option)] == option for k in range(len(command))), option
    assert command[-2:] == ["python", "x"]
    if shutil.which("prlimit"):
        assert f"--as={1024 * 2**20}" in command
    assert "bwrap" not in sandboxed(["python", "x"], tmp_path, tmp_path, settings, False)


def test_without_bwrap_grading_says_so_once_and_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(regrade.shutil, "which", lambda name: None)
    shutil.copy(ROOT / "course" / "nbgrader_config.py", tmp_path)
    (tmp_path / "source").mkdir()
    out = io.StringIO()
    grader = Grader(tmp_path, out=out)
    assert grader.sandbox is False
    assert grader.run(2) == []
    assert out.getvalue().count(NO_SANDBOX) == 1
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        grader.run(0)
