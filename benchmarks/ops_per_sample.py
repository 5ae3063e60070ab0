"""How many tensor operations (ATen operators, as the dispatcher sees them) one training sample
costs in each per-sample trainer of ``benchmarks/run.py``. Each tiny operation costs microseconds of
dispatch on a CPU, whatever its size, so this count explains most of the timings.

Counted with a ``TorchDispatchMode`` (every operator call that reaches the dispatcher below
autograd, including those autograd's backward pass runs) over one epoch of 1000 samples,
divided by 1000 (per-epoch work, such as the shuffle and ``fit``'s metrics, is spread over
the samples). Usage: ``python benchmarks/ops_per_sample.py [--verbose]``.
"""
from __future__ import annotations

import argparse
import collections
import pathlib
import sys

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from floor import FusedPaperNetwork                    # noqa: E402
from minidl import build_data, paper_model             # noqa: E402
from minidl.lab.compare import fit_torch, torch_twin   # noqa: E402
from minidl.utils import one_hot                       # noqa: E402

N_SAMPLES = 1000


class CountOps(TorchDispatchMode):
    """Counts each ATen operator called inside the ``with`` block."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def trainers() -> dict[str, object]:
    """One epoch of each per-sample trainer, from the same weights and the same shuffle."""
    x, y = build_data(N_SAMPLES, generator=torch.Generator().manual_seed(0))
    initial = paper_model(generator=torch.Generator().manual_seed(0))
    shuffle = lambda: torch.Generator().manual_seed(1)
    net, floor = torch_twin(initial), FusedPaperNetwork(initial)

    def minidl_fit(engine: str):
        model = paper_model()
        model.load_state_dict(initial.state_dict())
        return lambda: model.fit(x, y, epochs=1, step_size=0.01, generator=shuffle(), engine=engine)
    return {
        "torch.nn + autograd + optim.SGD (fit_torch)":
            lambda: fit_torch(net, x, y, epochs=1, step_size=0.01, generator=shuffle()),
        "minidl fit, engine='plain'": minidl_fit("plain"),
        "minidl fit, engine='fast'": minidl_fit("fast"),
        "floor (benchmarks/floor.py)": lambda: floor.epoch(x, one_hot(y, 2), 0.01, shuffle()),
    }


def count(epoch) -> collections.Counter[str]:
    with CountOps() as counter:
        epoch()
    return counter.counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list the operators of each trainer")
    args = parser.parse_args(argv)
    print("| per-sample trainer, paper's network | ATen ops per sample |")
    print("| --- | ---: |")
    counted = {name: count(epoch) for name, epoch in trainers().items()}
    for name, counts in counted.items():
        print(f"| {name} | {sum(counts.values()) / N_SAMPLES:.1f} |")
    if args.verbose:
        for name, counts in counted.items():
            print(f"\n{name}:")
            for op, n in counts.most_common():
                print(f"  {n / N_SAMPLES:7.3f}  {op}")


if __name__ == "__main__":
    main()
