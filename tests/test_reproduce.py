"""The main job's notebook runner (minidl.lab.reproduce): a heartbeat while long cells run, no
widget state saved, and no warning about unencrypted TCP from the kernel."""
import json

import nbformat

from minidl.lab.reproduce import execute_notebook


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
