"""The bug zoo: realistic mistakes in the answers of the course's three assignments, as data.

Each ``Mistake`` is a submission's answer cell as a student might hand it in: the source's
answer cell (``course/source/<assignment>``, found by its nbgrader ``grade_id``) with one mistake
made, in full. ``tests/test_bug_zoo.py`` puts it in place of the correct cell, runs every cell
of the notebook that nbgrader grades (hidden tests included) and checks that exactly ``fails``,
the test cells of the mistaken function (and of the functions built on it), fail, and that the
first failing cell's message names ``hint`` as the likely mistake (the ``key`` of the
``minidl.lab.hints.Hint`` that the check of ``minidl.lab.grading`` attached to its failure).

``NOISE``: answers that return random tensors of the right shapes: they must fail the same
cells with no hint at all (a hint is a claim, made only on exact evidence).

The sources here must stay code the clean re-check (``minidl.lab.recheck``) runs: no import
but torch, math and minidl, no getattr.
"""
from typing import NamedTuple


class Mistake(NamedTuple):
    name: str
    what: str                   # the mistake, in words
    assignment: str             # course/source/<assignment>
    grade_id: str               # the answer cell it replaces
    source: str                 # the whole answer cell, with the mistake
    fails: set[str]             # grade ids of the test cells that must fail, no more, no fewer
    hint: str | None            # the key of the likely mistake the first failing cell must name


ZOO = [
    Mistake('forward_without_transpose',
            'Linear.forward multiplies by w, not w^T',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight += g.T @ self.input
        self.grad_bias += g.sum(dim=0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_forward'}, 'forward_shapes'),
    Mistake('weight_gradient_transposed',
            'dl/dw computed as x^T g, the transpose of eq. (4)',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight += self.input.T @ g
        self.grad_bias += g.sum(dim=0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, 'transposed'),
    Mistake('input_gradient_times_w_transposed',
            'dl/dx computed as g w^T, as if eq. (2) transposed w like the forward',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight += g.T @ self.input
        self.grad_bias += g.sum(dim=0)
        return g @ self.weight.T

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, 'backward_shapes'),
    Mistake('weight_gradient_sign_flipped',
            'dl/dw subtracted instead of added',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight -= g.T @ self.input
        self.grad_bias += g.sum(dim=0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, 'negated'),
    Mistake('bias_gradient_not_summed',
            'dl/db = g, one row per sample, not summed over the batch',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight += g.T @ self.input
        self.grad_bias += g
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, 'not_summed'),
    Mistake('bias_gradient_averaged',
            'dl/db averaged over the batch instead of summed',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight += g.T @ self.input
        self.grad_bias += g.mean(dim=0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, 'divided_by_n'),
    Mistake('gradients_assigned',
            '= instead of +=: the gradients do not add up over calls',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight = g.T @ self.input
        self.grad_bias = g.sum(dim=0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, 'not_accumulating'),
    Mistake('relu_mask_from_gradient',
            "ReLU's mask taken from dl/dx instead of s",
            '01_layers', 'activations', '''\
class ReLU(Module):
    """x = max(0, s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.input = input               # s, kept for sigma'(s)
        return input.clamp(min=0)

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 where s > 0, else 0."""
        return grad_wrt_output.clamp(min=0)


class Tanh(Module):
    """x = tanh(s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.output = torch.tanh(input)  # x, kept for sigma'(s) = 1 - x^2
        return self.output

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 - tanh(s)^2 = 1 - x^2."""
        return grad_wrt_output * (1 - self.output.pow(2))
''',
            {'test_relu_backward'}, 'mask_from_wrong_tensor'),
    Mistake('relu_without_mask',
            "ReLU's backward passes dl/dx through unmasked",
            '01_layers', 'activations', '''\
class ReLU(Module):
    """x = max(0, s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.input = input               # s, kept for sigma'(s)
        return input.clamp(min=0)

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 where s > 0, else 0."""
        return grad_wrt_output


class Tanh(Module):
    """x = tanh(s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.output = torch.tanh(input)  # x, kept for sigma'(s) = 1 - x^2
        return self.output

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 - tanh(s)^2 = 1 - x^2."""
        return grad_wrt_output * (1 - self.output.pow(2))
''',
            {'test_relu_backward'}, 'relu_mask'),
    Mistake('tanh_derivative_at_output',
            "sigma' = 1 - tanh(.)^2 evaluated at the output x = tanh(s)",
            '01_layers', 'activations', '''\
class ReLU(Module):
    """x = max(0, s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.input = input               # s, kept for sigma'(s)
        return input.clamp(min=0)

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 where s > 0, else 0."""
        return grad_wrt_output * (self.input > 0).to(grad_wrt_output.dtype)


class Tanh(Module):
    """x = tanh(s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.output = torch.tanh(input)  # x, kept for sigma'(s) = 1 - x^2
        return self.output

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 - tanh(s)^2 = 1 - x^2."""
        return grad_wrt_output * (1 - torch.tanh(self.output) ** 2)
''',
            {'test_tanh_backward'}, 'sigma_prime_of_output'),
    Mistake('tanh_derivative_from_input',
            "sigma' = 1 - x^2 computed from the input s instead of the output x",
            '01_layers', 'activations', '''\
class ReLU(Module):
    """x = max(0, s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.input = input               # s, kept for sigma'(s)
        return input.clamp(min=0)

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 where s > 0, else 0."""
        return grad_wrt_output * (self.input > 0).to(grad_wrt_output.dtype)


class Tanh(Module):
    """x = tanh(s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.input = input
        self.output = torch.tanh(input)  # x, kept for sigma'(s) = 1 - x^2
        return self.output

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 - tanh(s)^2 = 1 - x^2."""
        return grad_wrt_output * (1 - self.input ** 2)
''',
            {'test_tanh_backward'}, 'sigma_prime_of_input'),
    Mistake('mse_gradient_without_mean',
            'the loss gradient without the 1/N of the mean',
            '01_layers', 'mse', '''\
class MSE:
    """The paper's loss: the mean over the N samples of ||prediction - target||^2."""

    @staticmethod
    def compute_loss(predictions, targets):
        return (predictions - targets).pow(2).sum(dim=1).mean()

    @staticmethod
    def compute_grad(predictions, targets):
        """dL/d(predictions), shape (N, C): eq. (1) for each sample, divided by N."""
        return 2 * (predictions - targets)
''',
            {'test_mse_gradient'}, 'times_n'),
    Mistake('mse_gradient_sign_flipped',
            'the loss gradient as 2 (t - p) / N',
            '01_layers', 'mse', '''\
class MSE:
    """The paper's loss: the mean over the N samples of ||prediction - target||^2."""

    @staticmethod
    def compute_loss(predictions, targets):
        return (predictions - targets).pow(2).sum(dim=1).mean()

    @staticmethod
    def compute_grad(predictions, targets):
        """dL/d(predictions), shape (N, C): eq. (1) for each sample, divided by N."""
        return 2 * (targets - predictions) / predictions.shape[0]
''',
            {'test_mse_gradient'}, 'negated'),
    Mistake('step_not_in_place',
            'gradient_step binds a new tensor to a name: the model does not change',
            '02_training', 'gradient_step', '''\
def gradient_step(model, step_size):
    """Eqs. (6) and (7): w <- w - step_size * dl/dw, in place, for every pair of model.param()."""
    for value, grad in model.param():
        value = value - step_size * grad
''',
            {'test_algorithm_1', 'test_gradient_step', 'test_training_accuracy'}, 'not_updated'),
    Mistake('step_uphill',
            'gradient_step adds the gradient: w <- w + eta dl/dw',
            '02_training', 'gradient_step', '''\
def gradient_step(model, step_size):
    """Eqs. (6) and (7): w <- w - step_size * dl/dw, in place, for every pair of model.param()."""
    for value, grad in model.param():
        value.add_(step_size * grad)
''',
            {'test_algorithm_1', 'test_gradient_step', 'test_training_accuracy'}, 'negated'),
    Mistake('no_zero_grad',
            'train never calls zero_grad: gradients pile up',
            '02_training', 'train', '''\
def train(model, x, t, *, epochs, step_size, decay=0.9, generator=None):
    """Algorithm 1: per-sample SGD on (x, t) for `epochs` epochs, the step size multiplied by
    `decay` after each epoch. Returns the training loss after each epoch (a list of floats)."""
    losses = []
    for epoch in range(epochs):
        eta = step_size * decay ** epoch
        for i in torch.randperm(x.shape[0], generator=generator):
            prediction = model.forward(x[i:i + 1])
            model.backward(MSE.compute_grad(prediction, t[i:i + 1]))
            gradient_step(model, eta)
        losses.append(float(MSE.compute_loss(model.forward(x), t)))
    return losses
''',
            {'test_algorithm_1', 'test_training_accuracy'}, 'no_zero_grad'),
    Mistake('decay_per_sample',
            'the step size multiplied by decay after every sample, not every epoch',
            '02_training', 'train', '''\
def train(model, x, t, *, epochs, step_size, decay=0.9, generator=None):
    """Algorithm 1: per-sample SGD on (x, t) for `epochs` epochs, the step size multiplied by
    `decay` after each epoch. Returns the training loss after each epoch (a list of floats)."""
    losses = []
    eta = step_size
    for epoch in range(epochs):
        for i in torch.randperm(x.shape[0], generator=generator):
            model.zero_grad()
            prediction = model.forward(x[i:i + 1])
            model.backward(MSE.compute_grad(prediction, t[i:i + 1]))
            gradient_step(model, eta)
            eta = eta * decay
        losses.append(float(MSE.compute_loss(model.forward(x), t)))
    return losses
''',
            {'test_algorithm_1', 'test_training_accuracy'}, 'decay_per_sample'),
    Mistake('decay_hard_coded',
            'the decay written as 0.9, ignoring the decay argument',
            '02_training', 'train', '''\
def train(model, x, t, *, epochs, step_size, decay=0.9, generator=None):
    """Algorithm 1: per-sample SGD on (x, t) for `epochs` epochs, the step size multiplied by
    `decay` after each epoch. Returns the training loss after each epoch (a list of floats)."""
    losses = []
    for epoch in range(epochs):
        eta = step_size * 0.9 ** epoch
        for i in torch.randperm(x.shape[0], generator=generator):
            model.zero_grad()
            prediction = model.forward(x[i:i + 1])
            model.backward(MSE.compute_grad(prediction, t[i:i + 1]))
            gradient_step(model, eta)
        losses.append(float(MSE.compute_loss(model.forward(x), t)))
    return losses
''',
            {'test_algorithm_1'}, 'decay_ignored'),
    Mistake('momentum_the_torch_way',
            "V = beta V + g (torch's momentum) instead of the paper's V = beta V + (1 - beta) g",
            '03_momentum_and_batches', 'momentum_sgd', '''\
class MomentumSGD:
    """The paper's momentum (Section V-B) on a list of (value, gradient) pairs:
    V = beta V + (1 - beta) g, then w <- w - step_size V, for every pair, in place."""

    def __init__(self, params, momentum):
        self.params = list(params)
        self.momentum = momentum
        self.velocities = [torch.zeros_like(value) for value, _ in self.params]   # V_0 = 0

    def step(self, step_size):
        beta = self.momentum
        for (value, grad), velocity in zip(self.params, self.velocities):
            velocity.mul_(beta).add_(grad)
            value.sub_(step_size * velocity)
''',
            {'test_momentum_step'}, 'times_1_over_1_minus_beta'),
    Mistake('velocity_not_kept',
            'the new velocity bound to a local name: it does not carry over to the next step',
            '03_momentum_and_batches', 'momentum_sgd', '''\
class MomentumSGD:
    """The paper's momentum (Section V-B) on a list of (value, gradient) pairs:
    V = beta V + (1 - beta) g, then w <- w - step_size V, for every pair, in place."""

    def __init__(self, params, momentum):
        self.params = list(params)
        self.momentum = momentum
        self.velocities = [torch.zeros_like(value) for value, _ in self.params]   # V_0 = 0

    def step(self, step_size):
        beta = self.momentum
        for (value, grad), velocity in zip(self.params, self.velocities):
            velocity = beta * velocity + (1 - beta) * grad
            value.sub_(step_size * velocity)
''',
            {'test_momentum_step'}, 'velocity_not_kept'),
    Mistake('torch_lr_not_rescaled',
            "torch.optim.SGD given lr = step_size, as if its momentum were the paper's",
            '03_momentum_and_batches', 'torch_sgd_arguments', '''\
def torch_sgd_arguments(step_size, momentum):
    """The keyword arguments of torch.optim.SGD that take the same steps as
    MomentumSGD(params, momentum).step(step_size): a dict with keys 'lr' and 'momentum'."""
    return {"lr": step_size, "momentum": momentum}
''',
            {'test_torch_equivalence'}, 'times_1_over_1_minus_beta'),
    Mistake('sample_gradients_summed',
            'the per-sample gradients summed, not averaged',
            '03_momentum_and_batches', 'mean_of_sample_gradients', '''\
def mean_of_sample_gradients(model, x, t):
    """The mean over the N samples of (x, t) of each sample's gradient, one forward and
    backward per sample: a list with one tensor per (value, gradient) pair of model.param()."""
    sums = [torch.zeros_like(value) for value, _ in model.param()]
    for i in range(x.shape[0]):
        model.zero_grad()
        model.backward(MSE.compute_grad(model.forward(x[i:i + 1]), t[i:i + 1]))
        for total, (_, grad) in zip(sums, model.param()):
            total += grad
    return sums
''',
            {'test_mean_of_sample_gradients'}, 'times_n'),
    Mistake('sample_gradients_not_cloned',
            "each sample's gradient appended without clone(): N references to one tensor",
            '03_momentum_and_batches', 'mean_of_sample_gradients', '''\
def mean_of_sample_gradients(model, x, t):
    """The mean over the N samples of (x, t) of each sample's gradient, one forward and
    backward per sample: a list with one tensor per (value, gradient) pair of model.param()."""
    per_sample = []
    for i in range(x.shape[0]):
        model.zero_grad()
        model.backward(MSE.compute_grad(model.forward(x[i:i + 1]), t[i:i + 1]))
        per_sample.append([grad for _, grad in model.param()])
    return [torch.stack(grads).mean(dim=0) for grads in zip(*per_sample)]
''',
            {'test_mean_of_sample_gradients'}, 'last_sample_only'),
]

NOISE = [
    Mistake('noise_linear_backward',
            'random gradients of the right shapes',
            '01_layers', 'linear', '''\
class Linear(Module):
    """Fully connected layer: s = w x + b (Step 1 of Section III-B), batch-first.

    Shape: input x (N, in_features) -> output s (N, out_features).
    Parameters: weight (out_features, in_features) and bias (out_features,), drawn from
    U[-1, 1] as in the paper; grad_weight and grad_bias beside them, of the same shapes.
    """

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input = None      # x, kept by forward: backward needs it for eq. (4)

    def forward(self, input):
        """s = x w^T + b for a batch x of shape (N, in_features); returns (N, out_features)."""
        self.input = input
        return input @ self.weight.T + self.bias

    def backward(self, grad_wrt_output):
        """g = dl/ds, shape (N, out_features). Adds dl/dw (eq. (4)) to self.grad_weight and
        dl/db (eq. (5)) to self.grad_bias, each summed over the N samples, and returns dl/dx
        (eq. (2)), shape (N, in_features)."""
        g = grad_wrt_output
        self.grad_weight += torch.randn_like(self.grad_weight)
        self.grad_bias += torch.randn_like(self.grad_bias)
        return torch.randn_like(self.input)

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def zero_grad(self):
        self.grad_weight.zero_()
        self.grad_bias.zero_()

    def __repr__(self):
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"
''',
            {'test_linear_backward'}, None),
    Mistake('noise_activations',
            'random dl/ds of the right shape',
            '01_layers', 'activations', '''\
class ReLU(Module):
    """x = max(0, s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.input = input               # s, kept for sigma'(s)
        return input.clamp(min=0)

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 where s > 0, else 0."""
        return torch.randn_like(grad_wrt_output)


class Tanh(Module):
    """x = tanh(s), entry by entry. Shape: any; the output has the input's shape."""

    def forward(self, input):
        self.output = torch.tanh(input)  # x, kept for sigma'(s) = 1 - x^2
        return self.output

    def backward(self, grad_wrt_output):
        """Eq. (3): dl/ds = dl/dx * sigma'(s), with sigma'(s) = 1 - tanh(s)^2 = 1 - x^2."""
        return torch.randn_like(grad_wrt_output)
''',
            {'test_relu_backward', 'test_tanh_backward'}, None),
    Mistake('noise_mse_gradient',
            'a random loss gradient of the right shape',
            '01_layers', 'mse', '''\
class MSE:
    """The paper's loss: the mean over the N samples of ||prediction - target||^2."""

    @staticmethod
    def compute_loss(predictions, targets):
        return (predictions - targets).pow(2).sum(dim=1).mean()

    @staticmethod
    def compute_grad(predictions, targets):
        """dL/d(predictions), shape (N, C): eq. (1) for each sample, divided by N."""
        return torch.randn_like(predictions)
''',
            {'test_mse_gradient'}, None),
    Mistake('noise_gradient_step',
            'random steps',
            '02_training', 'gradient_step', '''\
def gradient_step(model, step_size):
    """Eqs. (6) and (7): w <- w - step_size * dl/dw, in place, for every pair of model.param()."""
    for value, grad in model.param():
        value.sub_(step_size * torch.randn_like(grad))
''',
            {'test_algorithm_1', 'test_gradient_step', 'test_training_accuracy'}, None),
    Mistake('noise_momentum_step',
            'random steps',
            '03_momentum_and_batches', 'momentum_sgd', '''\
class MomentumSGD:
    """The paper's momentum (Section V-B) on a list of (value, gradient) pairs:
    V = beta V + (1 - beta) g, then w <- w - step_size V, for every pair, in place."""

    def __init__(self, params, momentum):
        self.params = list(params)
        self.momentum = momentum
        self.velocities = [torch.zeros_like(value) for value, _ in self.params]   # V_0 = 0

    def step(self, step_size):
        beta = self.momentum
        for (value, grad), velocity in zip(self.params, self.velocities):
            velocity.mul_(beta).add_((1 - beta) * grad)
            value.sub_(step_size * torch.randn_like(velocity))
''',
            {'test_momentum_step'}, None),
    Mistake('noise_mean_of_sample_gradients',
            'random tensors of the right shapes',
            '03_momentum_and_batches', 'mean_of_sample_gradients', '''\
def mean_of_sample_gradients(model, x, t):
    """The mean over the N samples of (x, t) of each sample's gradient, one forward and
    backward per sample: a list with one tensor per (value, gradient) pair of model.param()."""
    sums = [torch.zeros_like(value) for value, _ in model.param()]
    for i in range(x.shape[0]):
        model.zero_grad()
        model.backward(MSE.compute_grad(model.forward(x[i:i + 1]), t[i:i + 1]))
        for total, (_, grad) in zip(sums, model.param()):
            total += grad
    return [torch.randn_like(total) for total in sums]
''',
            {'test_mean_of_sample_gradients'}, None),
]
