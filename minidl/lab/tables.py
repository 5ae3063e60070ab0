"""Tables beside the paper's: the summary over runs, the Markdown table and its two files.

The paper reports each table as mean ± std over independent runs of the final values. The
reproduced Fig. 1 (``experiments.write_fig1``) and Fig. 5 (``studies.write_table``) are both
built from the three pieces here:

- ``summarise``: mean and sample standard deviation over the runs of each metric;
- ``paper_table``: the Markdown rows "reproduced | paper" for the training and validation sets;
- ``write_table_files``: the Markdown text and a JSON record (every run's values) side by side.

``text_table`` is the plain-text table with aligned columns that the gradient checker's and
the course's reports print.
"""
from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Iterable

def text_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """``header`` and ``rows`` (strings) as plain text: columns left-aligned two spaces apart, a
    rule of dashes under the header, no trailing spaces."""
    header, rows = list(header), [list(row) for row in rows]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    line = lambda row: "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
    return "\n".join([line(header), "-" * len(line(header)), *map(line, rows)])


#: The two rows of a table and the prefix of their metrics' names (as in ``History.history``).
SETS = (("training", ""), ("validation", "val_"))
HEADER = ("| set | MSE (reproduced) | MSE (paper) | accuracy (reproduced) | accuracy (paper) |",
          "| --- | --- | --- | --- | --- |")


def summarise(final: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    r"""Mean :math:`\bar v = \frac1R \sum_r v_r` and sample standard deviation
    :math:`s = \sqrt{\frac{1}{R-1} \sum_r (v_r - \bar v)^2}` over the R runs of each metric.

    The paper does not say which standard deviation it used; this is the sample one
    (``n - 1``, as ``torch.std`` and ``numpy.std(ddof=1)``), 0 for a single run. Both are
    computed correctly rounded (``statistics.fmean``, ``statistics.stdev``).

    Parameters:
        - ``final``: metric name -> one value per run (``{'loss': [0.04, 0.05, ...], ...}``).

    Returns:
        ``{name: {'mean': float, 'std': float}}``, in the order of ``final``.
    """
    out = {}
    for k, values in final.items():
        if not values:
            raise ValueError(f"summarise: {k!r} has no values")
        out[k] = {"mean": statistics.fmean(values),
                  "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def plus_minus(mean: float, std: float, digits: int) -> str:
    """``'0.04256 ± 0.00469'``: mean and std with ``digits`` decimals."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def paper_table(summary: dict[str, dict[str, float]], paper: dict[str, tuple[float, float]], *,
                digits: tuple[int, int] = (5, 5), marked: Iterable[str] = ()) -> list[str]:
    """The Markdown lines of a table beside the paper's: a header, then one row per set
    (training, validation) with the MSE and the accuracy, reproduced and the paper's.

    Parameters:
        - ``summary``: ``summarise``'s output; needs ``loss``, ``accuracy``, ``val_loss``,
          ``val_accuracy``.
        - ``paper``: the same keys -> the paper's ``(mean, std)``.
        - ``digits``: decimals of the MSE columns and of the accuracy columns.
        - ``marked``: keys whose reproduced cell gets a `` *`` (say, the ones more than one
          paper std away from the paper's mean); the caller explains the mark.

    Returns:
        The lines, without line ends (4 lines).
    """
    marked = set(marked)
    lines = list(HEADER)
    for name, prefix in SETS:
        cells = [name]
        for metric, places in zip(("loss", "accuracy"), digits):
            k = prefix + metric
            mark = " *" if k in marked else ""
            cells += [plus_minus(summary[k]["mean"], summary[k]["std"], places) + mark,
                      plus_minus(*paper[k], places)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_table_files(markdown: str, record: dict[str, object], md_path: str | os.PathLike,
                      json_path: str | os.PathLike) -> list[Path]:
    """Write ``markdown`` to ``md_path`` and ``record`` as indented JSON (with a final newline)
    to ``json_path``, creating their folders.

    Returns:
        ``[md_path, json_path]`` as ``Path``s.
    """
    paths = [Path(md_path), Path(json_path)]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(markdown)
    paths[1].write_text(json.dumps(record, indent=2) + "\n")
    return paths


__all__ = ["SETS", "summarise", "plus_minus", "paper_table", "write_table_files"]
