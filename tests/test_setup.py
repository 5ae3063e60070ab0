"""The set-up files agree with each other: conda and pip name the same packages and versions,
torch is pinned to the CPU build that installs here, and CI runs the README's test command."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}     # conda-forge's name -> PyPI's name


def pip_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def conda_pins() -> dict[str, str]:
    pins, in_deps = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        match = re.match(r"\s+-\s+([A-Za-z0-9_.-]+)=([^=\s]+)", line)
        if in_deps and match and match.group(1) != "python":
            pins[CONDA_NAMES.get(match.group(1), match.group(1)).lower()] = match.group(2)
    return pins


def test_conda_and_pip_name_the_same_packages_and_versions():
    assert conda_pins() == pip_pins()


def test_every_pip_requirement_is_pinned_exactly_and_torch_is_2_13_0():
    pins = pip_pins()
    assert pins["torch"] == "2.13.0"
    assert {"matplotlib", "jupyterlab", "ipywidgets", "nbval", "pytest"} <= set(pins)


def test_conda_takes_the_cpu_build_of_pytorch():
    assert re.search(r"-\s+pytorch=2\.13\.0=cpu\*", (ROOT / "environment.yml").read_text())


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make figures" in readme
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_pyproject_makefile_and_readme_agree_on_the_oldest_python():
    """numpy 2.4 (pinned) needs Python 3.11: pyproject, the Makefile's check and the README agree."""
    requires = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    makefile = re.search(r"^MIN_PYTHON\s*:=\s*(3\.\d+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert requires == makefile == "3.11"
    assert f"Python {requires}" in (ROOT / "README.md").read_text()


def test_bare_make_prints_every_target():
    import subprocess
    out = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT)], capture_output=True, text=True, check=True).stdout
    targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert "nothing was built" in out
    assert all(f"make {t} " in out for t in targets), out
