"""minidl.lab.graph: the computational graph of notebook 02, as data and as a drawing."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from minidl.lab.graph import PAPER_ACTIVATIONS, PAPER_SIZES, computational_graph, draw_computational_graph


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
