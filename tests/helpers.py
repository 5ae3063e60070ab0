"""Small helpers that several test modules share (imported as ``from helpers import ...``:
pytest puts ``tests/`` on the import path)."""
from __future__ import annotations

import pathlib

import torch

from minidl import Module

F64 = torch.float64
ROOT = pathlib.Path(__file__).resolve().parents[1]


def course_source() -> pathlib.Path:
    """The folder of the course's source notebooks (one folder per assignment, nbgrader's
    ``source/``): the one place tests take it from, so that it can be built here instead."""
    return ROOT / "course" / "source"


def generator(seed: int) -> torch.Generator:
    """A fresh seeded random stream: tests draw from their own, never from torch's global one."""
    return torch.Generator().manual_seed(seed)


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Two state dicts with the same names and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def all_finite(model) -> bool:
    """No NaN or infinite weight anywhere in ``model``."""
    return all(bool(torch.isfinite(v).all()) for v in model.state_dict().values())


class Scale(Module):
    """y = a x, with one learnable number a."""
    def __init__(self):
        self.a, self.grad_a = torch.ones(1), torch.zeros(1)

    def forward(self, x):
        self.x = x
        return self.a * x

    def backward(self, g):
        self.grad_a += (g * self.x).sum()
        return g * self.a

    def param(self):
        return [(self.a, self.grad_a)]
