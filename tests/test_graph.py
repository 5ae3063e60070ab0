"""minidl.lab.graph: the computational graph of notebook 02, as data and as a drawing."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from minidl.lab.graph import (PAPER_ACTIVATIONS, PAPER_SIZES, computational_graph, draw_computational_graph,
                              draw_worked_example)


def test_the_paper_network_has_one_node_per_tensor_operation_and_parameter():
    nodes, _ = computational_graph()
    kinds = [node.kind for node in nodes]
    # tensors: x0, s1, x1, s2, x2, s3, x3, x4, t, l; ops: 4 Linear, ReLU, ReLU, Tanh, MSE; params: 4
    assert kinds.count("tensor") == 10 and kinds.count("op") == 8 and kinds.count("param") == 4
    assert [n.label for n in nodes if n.kind == "op"] == ["Linear", "ReLU", "Linear", "ReLU", "Linear",
                                                         "Tanh", "Linear", "MSE"]
    params = [n for n in nodes if n.kind == "param"]
    assert [p.shape for p in params] == ["(25, 2), (25, 1)", "(25, 25), (25, 1)", "(25, 25), (25, 1)",
                                         "(2, 25), (2, 1)"]


def test_backward_edges_carry_the_papers_equations():
    nodes, edges = computational_graph()
    labels = [e.label for e in edges if e.direction == "backward"]
    assert labels.count("(1)") == 1            # at the loss
    assert labels.count("(2)") == 4            # through each Linear, to its input
    assert labels.count("(3)") == 3            # through each activation
    assert labels.count("(4), (5)") == 4       # from each Linear to its parameters
    assert all(e.label == "" for e in edges if e.direction == "forward")


def test_the_backward_chain_runs_from_the_loss_to_the_input():
    nodes, edges = computational_graph()
    backward = {e.start: e.end for e in edges if e.direction == "backward" and nodes[e.end].kind == "tensor"}
    node = next(i for i, n in enumerate(nodes) if n.label == r"$\ell$")
    visited = [nodes[node].label]
    while node in backward:
        node = backward[node]
        visited.append(nodes[node].label)
    assert visited == [r"$\ell$", "$x^{(4)}$", "$x^{(3)}$", "$s^{(3)}$", "$x^{(2)}$", "$s^{(2)}$",
                       "$x^{(1)}$", "$s^{(1)}$", "$x^{(0)}$"]


def test_a_network_without_hidden_layer():
    nodes, edges = computational_graph((2, 2), (None,))
    assert [n.label for n in nodes if n.kind == "op"] == ["Linear", "MSE"]
    assert len([e for e in edges if e.direction == "backward"]) == 3      # (2), (4)(5), (1)


@pytest.mark.parametrize("sizes, activations, message", [
    ((2,), (), "at least two positive widths"),
    ((2, 0, 2), ("ReLU", None), "at least two positive widths"),
    ((2, 25, 2), ("ReLU",), "one per layer"),
])
def test_bad_shapes_are_refused(sizes, activations, message):
    with pytest.raises(ValueError, match=message):
        computational_graph(sizes, activations)


def test_the_drawing_shows_every_label():
    fig, ax = plt.subplots()
    nodes, edges = draw_computational_graph(ax, PAPER_SIZES, PAPER_ACTIVATIONS)
    texts = [t.get_text() for t in ax.texts]
    for node in nodes:
        assert node.label in texts
    assert texts.count("(3)") == 3 and texts.count("(4), (5)") == 4
    assert len(ax.patches) == len(nodes)
    plt.close(fig)


def worked_example_values():
    vec = lambda *v: torch.tensor(v, dtype=torch.float64)
    values = dict(x0=vec(1, 0.5), s1=vec(2, -0.5), x1=vec(2, 0), x2=vec(0.5, 1), t=vec(1, 0),
                  l=torch.tensor(1.25), w1=torch.tensor([[1.0, 2.0], [-1.0, 1.0]]), b1=vec(0, 0),
                  w2=torch.tensor([[0.5, 1.0], [0.5, -1.0]]), b2=vec(-0.5, 0))
    gradients = dict(x2=vec(-1, 2), x1=vec(0.5, -3), s1=vec(0.5, 0), x0=vec(0.5, 1),
                     w2=torch.tensor([[-2.0, 0.0], [4.0, 0.0]]), b2=vec(-1, 2))
    return values, gradients


def test_the_worked_example_writes_every_value_and_gradient_on_its_node():
    values, gradients = worked_example_values()
    fig, ax = plt.subplots()
    draw_worked_example(ax, values, gradients)
    texts = [t.get_text() for t in ax.texts]
    for wanted in ["(1, 0.5)", "(2, -0.5)", "(0.5, 1)", "1.25", "(-1, 2)", "(0.5, -3)",
                   "w = (1, 2; -1, 1)\nb = (0, 0)", "dl/dw = (-2, 0; 4, 0)\ndl/db = (-1, 2)"]:
        assert wanted in texts, wanted
    assert not any(t.startswith("dl/dw") and "w1" in t for t in texts)     # no gradient given for w1: none written
    plt.close(fig)


def test_the_worked_example_refuses_a_name_that_is_not_a_node():
    values, gradients = worked_example_values()
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"expected names among .*got \['s2'\]"):
        draw_worked_example(ax, values, {**gradients, "s2": values["x0"]})
    plt.close(fig)
