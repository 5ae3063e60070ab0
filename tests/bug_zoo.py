"""The bug zoo: realistic mistakes in the answers of the course's three assignments, as data.

Each ``Mistake`` is a submission's answer cell as a student might hand it in: the correct answer
cell (the lab notebook's solution, as ``course/source/<assignment>`` holds it, found by its
nbgrader ``grade_id``, without nbgrader's markers) with one mistake made, written as ``edits``:
(correct text, mistaken text) pairs, each correct text found exactly once. So each exercise's
solution stays in one file, its lab notebook; ``answer`` makes the mistaken cell. ``tests/test_bug_zoo.py`` puts it in place of the correct cell, runs every cell
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
    grade_id: str               # the answer cell it changes
    edits: tuple                # (correct text, mistaken text) pairs, applied in order
    fails: set[str]             # grade ids of the test cells that must fail, no more, no fewer
    hint: str | None            # the key of the likely mistake the first failing cell must name


def answer(mistake: Mistake, correct: str) -> str:
    """The answer cell with ``mistake`` made: ``correct`` (the solution cell's source) without
    nbgrader's markers, each edit applied where its correct text occurs (exactly once)."""
    source = "\n".join(line for line in correct.split("\n")
                       if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")) + "\n"
    for old, new in mistake.edits:
        if source.count(old) != 1:
            raise ValueError(f"{mistake.name}: {old!r} occurs {source.count(old)} times in the correct cell")
        source = source.replace(old, new)
    return source


ZOO = [
    Mistake('forward_without_transpose',
            'Linear.forward multiplies by w, not w^T',
            '01_layers', 'linear',
            (('weight.T ', 'weight '),),
            {'test_linear_forward'}, 'forward_shapes'),
    Mistake('weight_gradient_transposed',
            'dl/dw computed as x^T g, the transpose of eq. (4)',
            '01_layers', 'linear',
            (('g.T @ self.input', 'self.input.T @ g'),),
            {'test_linear_backward'}, 'transposed'),
    Mistake('input_gradient_times_w_transposed',
            'dl/dx computed as g w^T, as if eq. (2) transposed w like the forward',
            '01_layers', 'linear',
            (('return g @ self.weight', 'return g @ self.weight.T'),),
            {'test_linear_backward'}, 'backward_shapes'),
    Mistake('weight_gradient_sign_flipped',
            'dl/dw subtracted instead of added',
            '01_layers', 'linear',
            (('grad_weight += g', 'grad_weight -= g'),),
            {'test_linear_backward'}, 'negated'),
    Mistake('bias_gradient_not_summed',
            'dl/db = g, one row per sample, not summed over the batch',
            '01_layers', 'linear',
            (('g.sum(dim=0)', 'g'),),
            {'test_linear_backward'}, 'not_summed'),
    Mistake('bias_gradient_averaged',
            'dl/db averaged over the batch instead of summed',
            '01_layers', 'linear',
            (('g.sum(dim', 'g.mean(dim'),),
            {'test_linear_backward'}, 'divided_by_n'),
    Mistake('gradients_assigned',
            '= instead of +=: the gradients do not add up over calls',
            '01_layers', 'linear',
            (('self.grad_weight += ', 'self.grad_weight = '),
             ('self.grad_bias += ', 'self.grad_bias = '),),
            {'test_linear_backward'}, 'not_accumulating'),
    Mistake('relu_mask_from_gradient',
            "ReLU's mask taken from dl/dx instead of s",
            '01_layers', 'activations',
            (('grad_wrt_output * (self.input > 0).to(grad_wrt_output.dtype', 'grad_wrt_output.clamp(min=0'),),
            {'test_relu_backward'}, 'mask_from_wrong_tensor'),
    Mistake('relu_without_mask',
            "ReLU's backward passes dl/dx through unmasked",
            '01_layers', 'activations',
            (('grad_wrt_output * (self.input > 0).to(grad_wrt_output.dtype)', 'grad_wrt_output'),),
            {'test_relu_backward'}, 'relu_mask'),
    Mistake('tanh_derivative_at_output',
            "sigma' = 1 - tanh(.)^2 evaluated at the output x = tanh(s)",
            '01_layers', 'activations',
            (('self.output.pow(2)', 'torch.tanh(self.output) ** 2'),),
            {'test_tanh_backward'}, 'sigma_prime_of_output'),
    Mistake('tanh_derivative_from_input',
            "sigma' = 1 - x^2 computed from the input s instead of the output x",
            '01_layers', 'activations',
            (('        self.output = torch.tanh(input)', '        self.input = input\n        self.output = torch.tanh(input)'),
             ('self.output.pow(2)', 'self.input ** 2'),),
            {'test_tanh_backward'}, 'sigma_prime_of_input'),
    Mistake('mse_gradient_without_mean',
            'the loss gradient without the 1/N of the mean',
            '01_layers', 'mse',
            ((' / predictions.shape[0]', ''),),
            {'test_mse_gradient'}, 'times_n'),
    Mistake('mse_gradient_sign_flipped',
            'the loss gradient as 2 (t - p) / N',
            '01_layers', 'mse',
            (('* (predictions - targets) ', '* (targets - predictions) '),),
            {'test_mse_gradient'}, 'negated'),
    Mistake('step_not_in_place',
            'gradient_step binds a new tensor to a name: the model does not change',
            '02_training', 'gradient_step',
            (('value -= step_size * grad', 'value = value - step_size * grad'),),
            {'test_gradient_step'}, 'not_updated'),
    Mistake('step_uphill',
            'gradient_step adds the gradient: w <- w + eta dl/dw',
            '02_training', 'gradient_step',
            (('value -= step_size * grad', 'value += step_size * grad'),),
            {'test_gradient_step'}, 'negated'),
    Mistake('no_zero_grad',
            'train never calls zero_grad: gradients pile up',
            '02_training', 'train',
            (('            model.zero_grad()\n', ''),),
            {'test_algorithm_1', 'test_training_accuracy'}, 'no_zero_grad'),
    Mistake('decay_per_sample',
            'the step size multiplied by decay after every sample, not every epoch',
            '02_training', 'train',
            (('    losses = []\n', '    losses = []\n    eta = step_size\n'),
             ('        eta = step_size * decay ** epoch\n', ''),
             ('            gradient_step(model, eta)\n', '            gradient_step(model, eta)\n            eta = eta * decay\n'),),
            {'test_algorithm_1', 'test_training_accuracy'}, 'decay_per_sample'),
    Mistake('decay_hard_coded',
            'the decay written as 0.9, ignoring the decay argument',
            '02_training', 'train',
            (('step_size * decay ** epoch', 'step_size * 0.9 ** epoch'),),
            {'test_algorithm_1'}, 'decay_ignored'),
    Mistake('tanh_derivative_not_squared',
            "tanh's derivative written 1 - x instead of 1 - x^2 (x = tanh(s))",
            '01_layers', 'activations',
            (('(1 - self.output.pow(2))', '(1 - self.output)'),),
            {'test_tanh_backward'}, 'derivative_not_squared'),
    Mistake('mse_gradient_per_element_mean',
            "the loss gradient divided by N * C, torch.nn.MSELoss's per-element mean",
            '01_layers', 'mse',
            (('/ predictions.shape[0]', '/ predictions.numel()'),),
            {'test_mse_gradient'}, 'half'),
    Mistake('sample_not_a_batch_of_one',
            'one sample taken as x[i], shape (2,), not as the row x[i:i + 1]',
            '02_training', 'train',
            (('model.forward(x[i:i + 1])', 'model.forward(x[i])'), ('t[i:i + 1]', 't[i]')),
            {'test_algorithm_1', 'test_training_accuracy'}, 'not_one_sample'),
    Mistake('shuffle_without_generator',
            'torch.randperm without the generator: a seed does not fix the order',
            '02_training', 'train',
            ((', generator=generator)', ')'),),
            {'test_algorithm_1'}, 'shuffle_without_generator'),
    Mistake('decay_applied_twice',
            'the step size decayed twice per epoch: decay ** epoch and step_size *= decay',
            '02_training', 'train',
            (('        eta = step_size * decay ** epoch\n', '        eta = step_size * decay ** epoch\n        step_size *= decay\n'),),
            {'test_algorithm_1'}, 'decay_twice'),
    Mistake('momentum_the_torch_way',
            "V = beta V + g (torch's momentum) instead of the paper's V = beta V + (1 - beta) g",
            '03_momentum_and_batches', 'momentum_sgd',
            (('(1 - beta) * grad', 'grad'),),
            {'test_momentum_step'}, 'times_1_over_1_minus_beta'),
    Mistake('velocity_not_kept',
            'the new velocity bound to a local name: it does not carry over to the next step',
            '03_momentum_and_batches', 'momentum_sgd',
            (('velocity.mul_(beta).add_((1 - beta) * grad)', 'velocity = beta * velocity + (1 - beta) * grad'),),
            {'test_momentum_step'}, 'velocity_not_kept'),
    Mistake('torch_lr_not_rescaled',
            "torch.optim.SGD given lr = step_size, as if its momentum were the paper's",
            '03_momentum_and_batches', 'torch_sgd_arguments',
            (('step_size * (1 - momentum)', 'step_size'),),
            {'test_torch_equivalence'}, 'times_1_over_1_minus_beta'),
    Mistake('sample_gradients_summed',
            'the per-sample gradients summed, not averaged',
            '03_momentum_and_batches', 'mean_of_sample_gradients',
            (('[total / x.shape[0] for total in sums]', 'sums'),),
            {'test_mean_of_sample_gradients'}, 'times_n'),
    Mistake('sample_gradients_not_cloned',
            "each sample's gradient appended without clone(): N references to one tensor",
            '03_momentum_and_batches', 'mean_of_sample_gradients',
            (('sums = [torch.zeros_like(value) for value, _ in model.param()', 'per_sample = ['),
             ('for total, (_, grad) in zip(sums, model.param()):\n            total += grad\n    return [total / x.shape[0] for total in sums', 'per_sample.append([grad for _, grad in model.param()])\n    return [torch.stack(grads).mean(dim=0) for grads in zip(*per_sample)'),),
            {'test_mean_of_sample_gradients'}, 'last_sample_only'),
]

NOISE = [
    Mistake('noise_linear_backward',
            'random gradients of the right shapes',
            '01_layers', 'linear',
            (('g.T @ self.input\n        self.grad_bias += g.sum(dim=0)\n        return g @ self.weight', 'torch.randn_like(self.grad_weight)\n        self.grad_bias += torch.randn_like(self.grad_bias)\n        return torch.randn_like(self.input)'),),
            {'test_linear_backward'}, None),
    Mistake('noise_activations',
            'random dl/ds of the right shape',
            '01_layers', 'activations',
            (('grad_wrt_output * (self.input > 0).to(grad_wrt_output.dtype', 'torch.randn_like(grad_wrt_output'),
             ('grad_wrt_output * (1 - self.output.pow(2)', 'torch.randn_like(grad_wrt_output'),),
            {'test_relu_backward', 'test_tanh_backward'}, None),
    Mistake('noise_mse_gradient',
            'a random loss gradient of the right shape',
            '01_layers', 'mse',
            (('2 * (predictions - targets) / predictions.shape[0]', 'torch.randn_like(predictions)'),),
            {'test_mse_gradient'}, None),
    Mistake('noise_gradient_step',
            'random steps',
            '02_training', 'gradient_step',
            (('step_size * grad', 'step_size * torch.randn_like(grad)'),),
            {'test_gradient_step'}, None),
    Mistake('noise_momentum_step',
            'random steps',
            '03_momentum_and_batches', 'momentum_sgd',
            (('value.sub_(step_size * velocity)', 'value.sub_(step_size * torch.randn_like(velocity))'),),
            {'test_momentum_step'}, None),
    Mistake('noise_mean_of_sample_gradients',
            'random tensors of the right shapes',
            '03_momentum_and_batches', 'mean_of_sample_gradients',
            (('total / x.shape[0]', 'torch.randn_like(total)'),),
            {'test_mean_of_sample_gradients'}, None),
]
