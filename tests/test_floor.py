"""The benchmark's floor (benchmarks/floor.py) is honest: its epoch is the epoch of
``Sequential.fit`` (same samples in the same order, same maths), only with fewer operations."""
import pathlib
import sys

import pytest
import torch

from minidl import Linear, ReLU, Sequential, build_data, paper_model
from minidl.utils import one_hot

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from floor import FusedPaperNetwork  # noqa: E402
from helpers import F64  # noqa: E402


@pytest.mark.parametrize("loss", ["mse", "elementwise"])
def test_two_floor_epochs_equal_two_fit_epochs_in_float64(loss):
    x, y = build_data(300, generator=torch.Generator().manual_seed(0), dtype=F64)
    model = paper_model(generator=torch.Generator().manual_seed(0), dtype=F64)
    floor = FusedPaperNetwork(model, loss=loss)
    model.fit(x, y, epochs=2, step_size=0.01, decay=0.9, loss=loss, generator=torch.Generator().manual_seed(1))
    shuffle = torch.Generator().manual_seed(1)
    for step_size in (0.01, 0.01 * 0.9):
        floor.epoch(x, one_hot(y, 2, F64), step_size, shuffle)
    for (w, b), linear in zip(floor.weights(), model.linears):
        assert (w - linear.weight).abs().max().item() < 1e-12
        assert (b - linear.bias).abs().max().item() < 1e-12
    moved = paper_model(generator=torch.Generator().manual_seed(0), dtype=F64).linears[0].weight
    assert (floor.weights()[0][0] - moved).abs().max().item() > 1e-3     # it did train


def test_the_floor_accepts_only_the_papers_network():
    with pytest.raises(ValueError, match="paper's single-run network"):
        FusedPaperNetwork(Sequential(Linear(2, 25), ReLU(), Linear(25, 2)))
    with pytest.raises(ValueError, match="loss"):
        FusedPaperNetwork(paper_model(), loss="cross-entropy")
