r"""SGD with the paper's momentum (Section V-B), and the step-size schedule.

The paper's momentum is an exponential moving average of the gradients:

.. math::
    V_t = \beta V_{t-1} + (1 - \beta) g_t, \qquad w \leftarrow w - \eta V_t .

Unrolled, this is ``torch.optim.SGD(lr=eta * (1 - beta), momentum=beta)``, whose buffer is
``B_t = beta B_{t-1} + g_t = V_t / (1 - beta)``. ``beta = 0`` is plain SGD, eqs. (6) and (7).

The optimizer keeps its state (one velocity per parameter, in a list aligned with the
parameters, as scikit-learn's optimizers do) apart from the layers.
"""
from __future__ import annotations

import torch

from ._checks import check_fraction, check_positive_number


class SGD:
    """Gradient descent with the paper's (EMA) momentum on a list of (value, grad) pairs."""

    def __init__(self, params: list[tuple[torch.Tensor, torch.Tensor]], momentum: float = 0.0) -> None:
        self.momentum = check_fraction(momentum, "momentum")
        self.params = list(params) if isinstance(params, (list, tuple)) else None
        if self.params is None or not all(isinstance(p, tuple) and len(p) == 2 and all(
                isinstance(t, torch.Tensor) for t in p) for p in self.params):
            raise TypeError(f"SGD params: expected a list of (value, gradient) tensor pairs, as model.param() "
                            f"returns, got {type(params).__name__}")
        self.velocities = [torch.zeros_like(value) for value, _ in self.params]

    def step(self, step_size: float) -> None:
        beta = self.momentum
        for (value, grad), velocity in zip(self.params, self.velocities):
            velocity.mul_(beta).add_(grad, alpha=1.0 - beta)     # V = beta V + (1 - beta) g
            value.add_(velocity, alpha=-step_size)               # w = w - eta V

    def state_dict(self) -> dict[str, object]:
        return {"momentum": self.momentum, "velocities": [v.clone() for v in self.velocities]}

    def __repr__(self) -> str:
        return f"SGD(momentum={self.momentum})"


def decayed_step_size(step_size: float, decay: float, epoch: int) -> float:
    """The paper's schedule: the step size is multiplied by ``decay`` (0.9) after each epoch."""
    return step_size * decay ** epoch


def check_step_size(step_size) -> float:
    return check_positive_number(step_size, "step_size")
