"""Every measured number in README.md comes from a file that a command in the repo writes.

The README marks its stretches with HTML comments (invisible on GitHub):

    <!-- numbers: figures/fig1_table.json notebooks/04_training.ipynb -->

and every number after such a marker, up to the next one, must be found in one of the files it
names: in a JSON file, any number of the file; in a notebook, any number its saved outputs print
(what the main job, ``make figures``, executed); in any other file, any number of its text. A
README number matches a source number that it rounds to (0.0419 matches 0.041893; a percentage
matches a fraction, 46% ~ 0.4601; a sign may be said in words, "1.3 std lower" for -1.3). Numbers that are inputs rather than results (the disk's
centre, a default step size) are listed in the marker itself: ``<!-- numbers: given 0.5 0.01 -->``.

Which numbers are checked: decimals (0.9812, 3.0, 1.4e-15), percentages and ratios (46%, 2.9x);
plain integers (30 runs, 100 epochs) are counts and settings, and code (inline, fenced or
indented) is not prose. Change a number in figures/ without regenerating the README and this
test names the README number that no longer has a source.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!--\s*numbers:\s*(.*?)\s*-->", re.S)
NUMBER = re.compile(r"(?<![\w.=/-])(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+(?=\s?%)|\d+(?:\.\d+)?(?=x\b))(?![\w.]*\d)")
SOURCE_NUMBER = re.compile(r"-?\d+\.?\d*(?:e[-+]?\d+)?")


def prose(text: str) -> str:
    """The text without fenced, indented or inline code, link targets and HTML comments."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"(?m)^    .*$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"<!--.*?-->", " ", text, flags=re.S)


def regions(readme: str) -> list[tuple[list[str], str]]:
    """``(sources, text)`` for every stretch of the README: before the first marker (no
    sources), then from each marker to the next."""
    parts = MARKER.split(readme)
    return [([], parts[0])] + [(s.split(), text) for s, text in zip(parts[1::2], parts[2::2])]


def numbers_in(text: str) -> list[str]:
    return NUMBER.findall(prose(text))


def json_values(item) -> list[float]:
    """Every number in a parsed JSON document (and the numbers inside its strings)."""
    if isinstance(item, bool):
        return []
    if isinstance(item, (int, float)):
        return [float(item)]
    if isinstance(item, str):
        return [float(t) for t in SOURCE_NUMBER.findall(item)]
    children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else []
    return [v for child in children for v in json_values(child)]


def source_values(path: Path) -> list[float]:
    """Every number ``path`` holds: a JSON file's values, the printed outputs saved in a
    notebook, or the numbers of any other file's text."""
    if path.suffix == ".json":
        return json_values(json.loads(path.read_text()))
    if path.suffix == ".ipynb":
        texts = []
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                texts.append("".join(output.get("text", "")))
                for mime in ("text/plain", "text/markdown", "text/html"):
                    texts.append("".join(output.get("data", {}).get(mime, "")))
        text = "\n".join(texts)
    else:
        text = path.read_text()
    return [float(t) for t in SOURCE_NUMBER.findall(text)]


def matches(token: str, values: list[float]) -> bool:
    """``token`` as the README writes it is one of ``values`` rounded to its shown digits. The
    README says a sign in words ("1.3 std lower" for -1.3), and a percentage may be a fraction
    in the source (46 matches 0.46)."""
    mantissa, _, exponent = token.partition("e")
    decimals = len(mantissa.partition(".")[2])
    half = 0.5 * 10.0 ** (int(exponent or 0) - decimals) * (1 + 1e-9)
    x = float(token)
    return any(abs(abs(v) - x) <= half or abs(abs(100 * v) - x) <= half for v in values)


def unsourced(readme: str, load=lambda name: source_values(ROOT / name)) -> list[str]:
    """One line per README number that no source of its stretch holds."""
    problems = []
    for sources, text in regions(readme):
        tokens = numbers_in(text)
        if sources[:1] == ["given"]:
            problems += [f"{t}: not among the given numbers {sources[1:]}" for t in tokens if t not in sources[1:]]
        elif not sources:
            problems += [f"{t}: no '<!-- numbers: FILE -->' marker before it" for t in tokens]
        else:
            values = [v for name in sources for v in load(name)]
            problems += [f"{t}: not in {' or '.join(sources)}" for t in tokens if not matches(t, values)]
    return problems


def test_every_readme_number_has_its_source():
    readme = (ROOT / "README.md").read_text()
    assert len(numbers_in(readme)) > 100          # the check covers the README's results
    problems = unsourced(readme)
    assert not problems, "README numbers without a source:\n" + "\n".join(problems)


def test_every_source_the_readme_names_exists():
    names = {n for sources, _ in regions((ROOT / "README.md").read_text()) if sources[:1] != ["given"] for n in sources}
    assert names and all((ROOT / n).is_file() for n in names), sorted(n for n in names if not (ROOT / n).is_file())


def test_a_changed_number_in_figures_is_caught():
    """Change one value of figures/fig1_table.json (as a regeneration with other numbers would)
    and the README's copy of it has no source any more."""
    readme = (ROOT / "README.md").read_text()
    record = json.loads((ROOT / "figures" / "fig1_table.json").read_text())
    mean = record["conventions"]["elementwise"]["table"]["accuracy"]["mean"]
    assert f"{mean:.4f}" in readme and not unsourced(readme)

    def changed(item):
        if isinstance(item, dict):
            return {k: changed(v) for k, v in item.items()}
        if isinstance(item, list):
            return [changed(v) for v in item]
        return mean + 0.003 if item == mean else item

    def load(name):
        if name == "figures/fig1_table.json":
            return json_values(changed(record))
        return source_values(ROOT / name)
    assert f"{mean:.4f}: not in figures/fig1_table.json" in "\n".join(unsourced(readme, load))


@pytest.mark.parametrize("token, values, expected", [
    ("0.9812", [0.98123], True), ("0.9812", [0.98127], False), ("46", [0.4601], True),
    ("1.4e-15", [1.43e-15], True), ("1.4e-15", [1.46e-15], False), ("2.9", [2.94], True), ("3.0", [2.94], False),
])
def test_rounding_rule(token, values, expected):
    assert matches(token, values) is expected
