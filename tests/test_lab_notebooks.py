"""The lab notebooks as a student meets them: every predict-then-run prompt keeps its answer
collapsed (a <details> block, or a code cell whose output is hidden), so that it is read after
the prediction, not before."""
import json
import pathlib
import re

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def markdown(path: pathlib.Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def prompts(text: str) -> list[str]:
    """Each predict-then-run prompt (or worksheet item) with the text up to the next heading."""
    parts = re.split(r"(?m)^(?=#{2,4} )", text)
    return [p for p in parts if p.startswith("### Predict, then run") or re.match(r"#### \d\. ", p)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_prompt_keeps_its_answer_collapsed(path):
    for prompt in prompts(markdown(path)):
        title = prompt.splitlines()[0]
        assert "<details>" in prompt and "</details>" in prompt, f"{path.name}: {title}: no collapsed answer"
        visible = re.sub(r"<details>.*?</details>", "", prompt, flags=re.S)
        assert "*Look for.*" not in visible and "*Observe" not in visible, f"{path.name}: {title}: answer shown"


def test_the_lab_has_prompts_in_every_chapter_but_the_first():
    counts = {path.stem[:2]: len(prompts(markdown(path))) for path in NOTEBOOKS}
    assert all(counts[n] >= 2 for n in ("02", "03", "04", "05", "06")) and counts["07"] == 5, counts
