"""The main job's notebook runner (minidl.lab.reproduce): a heartbeat while long cells run, no
widget state saved, and no warning about unencrypted TCP from the kernel."""
import json
import sys

import nbformat

from minidl.lab.reproduce import NOTEBOOKS, execute_notebook, find_notebooks, main as reproduce_main


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def test_a_long_cell_is_reported_while_it_runs(tmp_path, capsys):
    path = write_notebook(tmp_path / "01_slow.ipynb", "x = 1", "import time\ntime.sleep(1.2)")
    execute_notebook(path, heartbeat=0.25)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if "running for" in line]
    assert all(line.startswith("[01_slow.ipynb] cell ") for line in lines), lines
    slow = [line for line in lines if line.startswith("[01_slow.ipynb] cell 2/2 running for")]
    assert len(slow) >= 3 and all(line.endswith(" s: import time") for line in slow), lines


def test_widget_state_and_views_are_not_saved(tmp_path):
    path = write_notebook(tmp_path / "02_widget.ipynb", "import ipywidgets\nipywidgets.IntSlider(value=3)")
    execute_notebook(path)
    saved = json.loads(path.read_text())
    assert "widgets" not in saved["metadata"]
    data = saved["cells"][0]["outputs"][0]["data"]
    assert "application/vnd.jupyter.widget-view+json" not in data and "IntSlider" in "".join(data["text/plain"])


def test_the_kernel_does_not_warn_about_unencrypted_tcp(tmp_path, capfd):
    execute_notebook(write_notebook(tmp_path / "03_quiet.ipynb", "1 + 1"))
    assert "without encryption" not in capfd.readouterr().err


def test_consecutive_prints_are_saved_as_one_output(tmp_path):
    """A cell's stdout arrives in chunks whose boundaries depend on timing; saved as one output,
    the notebook is the same file at every execution."""
    path = write_notebook(tmp_path / "04_chunks.ipynb", "import sys, time\nprint('a', flush=True)\n"
                          "time.sleep(0.3)\nprint('b', flush=True)\ntime.sleep(0.3)\nprint('c')")
    execute_notebook(path)
    outputs = json.loads(path.read_text())["cells"][0]["outputs"]
    assert len(outputs) == 1 and "".join(outputs[0]["text"]) == "a\nb\nc\n"


def test_find_notebooks_in_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "10_c.ipynb", "notes.ipynb", "1_x.ipynb", "03_d.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in find_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    assert [p.name for p in find_notebooks(tmp_path, ["02", "10_c"])] == ["02_b.ipynb", "10_c.ipynb"]
    assert all(p.name[:2].isdigit() for p in find_notebooks(NOTEBOOKS))


def test_reproduce_executes_in_place_and_stops_on_error(tmp_path, capsys):
    """Notebooks run in order in their own folder with this Python; a failing one stops the job
    with exit status 1, names the notebook, and is left unmodified."""
    figures = tmp_path / "figures"
    figures.mkdir()
    write_notebook(tmp_path / "01_ok.ipynb", "import os, sys\nprint(sys.executable)\nprint(os.getcwd())",
                   "open('figures/out.txt', 'w').write('x')")
    write_notebook(tmp_path / "02_bad.ipynb", "1 / 0")
    write_notebook(tmp_path / "03_never.ipynb", "print('should not run')")
    before = (tmp_path / "02_bad.ipynb").read_text()

    status = reproduce_main(["--notebooks", str(tmp_path), "--figures", str(figures)])
    captured = capsys.readouterr()
    assert status == 1
    assert "02_bad.ipynb" in captured.err and "ZeroDivisionError" in captured.err
    assert "[1/3] 01_ok.ipynb done" in captured.out
    ran = nbformat.read(tmp_path / "01_ok.ipynb", as_version=4)
    assert ran.cells[0].outputs[0].text.split("\n")[:2] == [sys.executable, str(tmp_path)]
    assert (tmp_path / "02_bad.ipynb").read_text() == before
    assert not nbformat.read(tmp_path / "03_never.ipynb", as_version=4).cells[0].outputs

    status = reproduce_main(["01", "--notebooks", str(tmp_path), "--figures", str(figures)])
    assert status == 0
    assert "out.txt" in capsys.readouterr().out


def test_reproduce_with_no_notebook_fails_clearly(tmp_path, capsys):
    assert reproduce_main(["--notebooks", str(tmp_path)]) == 1
    assert "no notebook" in capsys.readouterr().err
