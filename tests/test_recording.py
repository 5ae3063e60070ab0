"""minidl.engine.recording: a step recorded once and replayed, and the steps it refuses to record
(tests/test_engine.py checks that the engine's recorded step gives the plain fit's numbers)."""
from __future__ import annotations

import torch

from minidl.engine.recording import record


def sample_pairs(count, features=2, classes=2, lead=(), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(*lead, features, generator=g, dtype=dtype),
             torch.rand(*lead, classes, generator=g, dtype=dtype)) for _ in range(count)]


def refuses(step) -> bool:
    """Whether ``record`` refuses ``step`` on a sample and a target of 3 numbers."""
    return record(step, torch.zeros(3), torch.zeros(3)) is None


def test_a_step_that_reads_a_tensor_it_made_is_not_replayed():
    out = torch.zeros(3)

    def step(x, t):
        doubled = x * 2                    # a fresh tensor: a replay would read the recorded one
        torch.add(doubled, t, out=out)
    assert refuses(step)


def test_a_step_that_reads_a_view_of_the_sample_is_not_replayed():
    out = torch.zeros(3)

    def step(x, t):
        torch.add(x.view(3), t, out=out)     # the view would keep the placeholder
    assert refuses(step)


def test_a_step_that_passes_the_sample_by_keyword_is_not_replayed():
    out = torch.zeros(3)

    def step(x, t):
        torch.add(t, other=x, out=out)
    assert refuses(step)


def test_the_replay_reads_each_new_sample_and_skips_views_of_buffers():
    weight, out, grad = torch.rand(2, 3), torch.zeros(2), torch.zeros(2)

    def step(x, t):
        torch.mv(weight.mT.mT, x, out=out)      # a view of a buffer made once is fine
        torch.sub(out, t, out=grad)
    replay = record(step, torch.zeros(3), torch.zeros(2))
    assert replay is not None
    for x, t in sample_pairs(3, features=3):
        replay(x, t)
        assert torch.equal(grad, weight @ x - t)



def test_the_replay_puts_the_sample_in_wherever_a_call_reads_it():
    weight, bias, out = torch.rand(3, 2), torch.rand(2), torch.zeros(1, 2)

    def step(x, t):
        torch.addmm(bias, x, weight, out=out)     # the sample in the middle
        out.sub_(t)
    replay = record(step, torch.zeros(1, 3), torch.zeros(1, 2))
    for x, t in sample_pairs(3, features=3, lead=(1,)):
        replay(x, t)
        assert torch.equal(out, torch.addmm(bias, x, weight) - t)


def test_a_step_that_reads_the_sample_inside_a_list_is_not_replayed():
    out = torch.zeros(6)
    assert refuses(lambda x, t: torch.cat([x, t], out=out))


def test_a_step_that_splits_the_sample_into_a_tuple_is_not_replayed():
    out = torch.zeros(())

    def step(x, t):
        first, _, _ = x.unbind(0)                  # views of the placeholder, in a tuple
        torch.add(first, 1.0, out=out)
    assert refuses(step)


def test_a_step_that_reads_a_value_of_the_sample_into_python_is_not_replayed():
    out = torch.zeros(3)

    def step(x, t):
        if x.tolist()[0] > 2:                      # the branch would be frozen
            torch.add(x, t, out=out)
    assert refuses(step)
    assert refuses(lambda x, t: torch.equal(t, torch.ones(3)) or torch.add(x, t, out=out))


def test_a_step_that_reads_a_view_into_a_temporary_is_not_replayed():
    weight, buffer, out = torch.rand(3, 3), torch.rand(3), torch.zeros(3)

    def step(x, t):
        torch.mv(weight, x, out=buffer)
        temporary = torch.einsum("ij,i->j", weight, buffer)     # may be a view of memory of its own
        torch.add(temporary, t, out=out)
    assert refuses(step)


def test_writes_by_item_assignment_and_inplace_flag_are_replayed():
    out = torch.zeros(4)

    def step(x, t):
        torch.add(x, t, out=out[:2])
        out[2:] = out[:2]                          # Tensor.__setitem__: a write
        torch.nn.functional.relu(out, inplace=True)
    replay = record(step, torch.zeros(2), torch.zeros(2))
    assert replay is not None
    for x, t in sample_pairs(3, features=2) + [(-torch.ones(2), torch.zeros(2))]:
        replay(x, t)
        expected = torch.relu(torch.cat([x + t, x + t]))
        assert torch.equal(out, expected)
