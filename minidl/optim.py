r"""Gradient descent: the step of eqs. (6) and (7), the paper's momentum, the step-size schedule.

The plain step (Section III-B, eqs. (6) and (7)) moves every parameter against its gradient:

.. math:: w \leftarrow w - \eta \frac{\partial \ell}{\partial w}, \qquad
          b \leftarrow b - \eta \frac{\partial \ell}{\partial b} .

The paper's momentum (Section V-B) is an exponential moving average of the gradients:

.. math::
    V_t = \beta V_{t-1} + (1 - \beta) g_t, \qquad w \leftarrow w - \eta V_t .

Unrolled, this is ``torch.optim.SGD(lr=eta * (1 - beta), momentum=beta)`` (``torch_sgd_lr`` gives
that lr), whose buffer is ``B_t = beta B_{t-1} + g_t = V_t / (1 - beta)``; ``beta = 0`` is
the plain step.

Design: **the optimizer owns the update.** ``gradient_step`` below is the one implementation
of eqs. (6) and (7); ``SGD`` calls it when ``beta = 0`` and adds the velocities otherwise, and
every ``Module.gradient_step`` (the paper's interface, Section IV) delegates to it. The layers
only hand out their (value, gradient) pairs through ``param()``; ``fit`` gives ``SGD`` the pairs
of ``model.param()``, whatever layers they come from. The optimizer keeps its state (one
velocity per parameter, in a list aligned with the parameters, as scikit-learn's optimizers do)
apart from the layers.
"""
from __future__ import annotations

import torch

from ._checks import check_fraction, check_positive_number

Params = list[tuple[torch.Tensor, torch.Tensor]]


def gradient_step(params: Params, step_size: float) -> None:
    r"""The plain gradient step, eqs. (6) and (7), on every (value, gradient) pair, in place.

    Parameters:
        - ``params``: ``(value, gradient)`` pairs of equal shapes, as ``Module.param()`` returns.
        - ``step_size``: :math:`\eta`. Not checked (this runs every step; ``fit`` checks it once).
    """
    for value, grad in params:
        value.add_(grad, alpha=-step_size)    # w -= eta dl/dw: eq. (6) for a weight, eq. (7) for a bias


class SGD:
    r"""Gradient descent with the paper's (EMA) momentum: :math:`V \leftarrow \beta V + (1 - \beta) g`,
    :math:`w \leftarrow w - \eta V`; with :math:`\beta = 0`, the plain step of eqs. (6) and (7).

    Parameters:
        - ``params``: a list of ``(value, gradient)`` tensor pairs, as ``model.param()`` returns;
          ``step`` reads the gradients and updates the values in place.
        - ``momentum``: :math:`\beta \in [0, 1)`.

    State: ``velocities``, one :math:`V` per parameter (same shape), zero at the start.

    Raises:
        ``TypeError`` if ``params`` is not a list of tensor pairs; ``TypeError`` / ``ValueError``
        if ``momentum`` is not a number in [0, 1).
    """

    def __init__(self, params: Params, momentum: float = 0.0) -> None:
        self.momentum = check_fraction(momentum, "momentum")
        self.params = list(params) if isinstance(params, (list, tuple)) else None
        if self.params is None or not all(isinstance(p, tuple) and len(p) == 2 and all(
                isinstance(t, torch.Tensor) for t in p) for p in self.params):
            raise TypeError(f"SGD params: expected a list of (value, gradient) tensor pairs, as model.param() "
                            f"returns, got {type(params).__name__}")
        self.velocities = [torch.zeros_like(value) for value, _ in self.params]

    def step(self, step_size: float) -> None:
        r"""One update of every parameter with step size :math:`\eta` = ``step_size``."""
        beta = self.momentum
        if beta == 0:
            gradient_step(self.params, step_size)
            return
        for (value, grad), velocity in zip(self.params, self.velocities):
            velocity.mul_(beta).add_(grad, alpha=1.0 - beta)     # V = beta V + (1 - beta) g
            value.add_(velocity, alpha=-step_size)               # w = w - eta V

    def state_dict(self) -> dict[str, object]:
        """``{'momentum': beta, 'velocities': [copies of V]}``."""
        return {"momentum": self.momentum, "velocities": [v.clone() for v in self.velocities]}

    def __repr__(self) -> str:
        return f"SGD(momentum={self.momentum})"


def torch_sgd_lr(step_size: float, momentum: float) -> float:
    r"""The ``lr`` that makes ``torch.optim.SGD(lr=..., momentum=beta)`` take this ``SGD``'s steps:
    :math:`\eta (1 - \beta)` (its buffer is :math:`V / (1 - \beta)`)."""
    return step_size * (1 - momentum)


def decayed_step_size(step_size: float, decay: float, epoch: int) -> float:
    r"""The paper's schedule: :math:`\eta_e = \eta \cdot \text{decay}^e` for epoch ``e`` (from 0);
    the paper multiplies the step size by 0.9 after each epoch."""
    return step_size * decay ** epoch


def check_step_size(step_size) -> float:
    """``step_size`` as a float, or ``TypeError`` / ``ValueError`` unless it is positive and finite."""
    return check_positive_number(step_size, "step_size")
