"""minidl: the EE-559 Mini-project II framework, backpropagation with PyTorch tensors only.

    >>> from minidl import Sequential, Linear, ReLU, Tanh, build_data
    >>> x, y = build_data(1000)
    >>> model = Sequential(Linear(2, 25), ReLU(), Linear(25, 25), ReLU(), Linear(25, 25), Tanh(), Linear(25, 2))
    >>> history = model.fit(x, y, epochs=10)
"""
import os

# The same floats on every x86 CPU: Intel's MKL, which torch calls for matrix products, picks its
# code by CPU (AVX-512 on an Intel Xeon, SSE4.2 on an AMD EPYC), and the two round sums in other
# orders, which 100 epochs of SGD carry into the third decimal of an accuracy. One path for all
# makes the committed figures and outputs reproducible bit for bit (README, "Two commands"). It
# takes effect if minidl is imported before the process's first matrix product, as the notebooks do.
os.environ.setdefault("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")

import torch  # noqa: E402

from .layers import Linear, ReLU, Tanh
from .losses import ElementwiseMSE, MSE
from .module import Module
from .optim import SGD
from .sequential import Sequential
from .training import DivergenceError, History
from .utils import build_data
from . import utils

__all__ = ["Module", "Linear", "ReLU", "Tanh", "Sequential", "MSE", "ElementwiseMSE", "SGD",
           "History", "DivergenceError", "build_data", "utils", "paper_model"]


def paper_model(*, init: str = "uniform", runs: int | None = None, dtype=None, generator=None) -> Sequential:
    """The paper's network: 2-25-25-25-2 with ReLU, ReLU, Tanh and a linear output (Section VI).

    Shape: ``(N, 2)`` -> ``(N, 2)``; with ``runs=R``, ``(R, N, 2)`` -> ``(R, N, 2)``.
    ``init``, ``dtype`` and ``generator`` go to every ``Linear`` (float32 by default).
    """
    kw = dict(init=init, runs=runs, dtype=dtype or torch.float32, generator=generator)
    return Sequential(Linear(2, 25, **kw), ReLU(), Linear(25, 25, **kw), ReLU(),
                      Linear(25, 25, **kw), Tanh(), Linear(25, 2, **kw))
