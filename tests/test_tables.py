"""Tests of minidl.lab.tables: the summary, the Markdown table and the files behind Figs. 1 and 5."""
import json
import statistics

import pytest

from minidl.lab.tables import paper_table, summarise, write_table_files

PAPER = {"loss": (0.04256, 0.00469), "accuracy": (0.9852, 0.0057),
         "val_loss": (0.04013, 0.00455), "val_accuracy": (0.9858, 0.0068)}


def test_summarise_is_mean_and_sample_std():
    s = summarise({"a": [1.0, 2.0, 4.0], "b": [0.5]})
    assert s["a"]["mean"] == pytest.approx(7 / 3)
    assert s["a"]["std"] == pytest.approx(statistics.stdev([1.0, 2.0, 4.0]))
    assert s["a"]["std"] == pytest.approx(((16 / 9 + 1 / 9 + 25 / 9) / 2) ** 0.5)      # n - 1
    assert s["b"] == {"mean": 0.5, "std": 0.0}
    assert list(summarise({"z": [1.0], "a": [2.0]})) == ["z", "a"]
    with pytest.raises(ValueError, match="'c' has no values"):
        summarise({"c": []})


def test_paper_table_rows_digits_and_marks():
    summary = {k: {"mean": m + 0.001, "std": s / 2} for k, (m, s) in PAPER.items()}
    lines = paper_table(summary, PAPER, digits=(5, 4), marked=["val_accuracy"])
    assert lines[:2] == ["| set | MSE (reproduced) | MSE (paper) | accuracy (reproduced) | accuracy (paper) |",
                         "| --- | --- | --- | --- | --- |"]
    assert lines[2] == "| training | 0.04356 ± 0.00234 | 0.04256 ± 0.00469 | 0.9862 ± 0.0029 | 0.9852 ± 0.0057 |"
    assert lines[3] == "| validation | 0.04113 ± 0.00228 | 0.04013 ± 0.00455 | 0.9868 ± 0.0034 * | 0.9858 ± 0.0068 |"
    assert paper_table(summary, PAPER)[2].endswith("| 0.98620 ± 0.00285 | 0.98520 ± 0.00570 |")


def test_write_table_files_writes_both_and_makes_folders(tmp_path):
    md, js = write_table_files("**T**\n", {"a": [1.5, 2]}, tmp_path / "x" / "t.md", tmp_path / "y" / "t.json")
    assert md.read_text() == "**T**\n"
    assert js.read_text() == '{\n  "a": [\n    1.5,\n    2\n  ]\n}\n'
    assert json.loads(js.read_text()) == {"a": [1.5, 2]}
