r"""The computational graph of a multi-layer perceptron, drawn with matplotlib (notebook 02).

The graph of the paper's network is a chain: the input :math:`x^{(0)}`, then for each layer
:math:`l` a ``Linear`` (with its parameters :math:`w^{(l)}, b^{(l)}`) giving :math:`s^{(l)}`
and an activation giving :math:`x^{(l)}`, and finally the loss :math:`\ell` of the output and
the target :math:`t`. The forward pass runs along the chain from left to right; the backward
pass runs it from right to left, each arrow computed by one of the paper's equations:
(1) at the loss, (3) through an activation, (2) through a ``Linear`` to its input, (4) and
(5) from a ``Linear`` to its parameters.

- ``computational_graph(sizes, activations)``: the nodes and edges, as data (tested);
- ``draw_computational_graph(ax, sizes, activations)``: the picture;
- ``draw_worked_example(ax, values, gradients)``: the graph of a 2-2-2 network with the value
  of every tensor written above it and its gradient below it (notebook 02's worked example).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from matplotlib.patches import Circle, FancyBboxPatch

#: The paper's network: 2-25-25-25-2, ReLU, ReLU, Tanh and no activation after the last layer.
PAPER_SIZES = (2, 25, 25, 25, 2)
PAPER_ACTIVATIONS = ("ReLU", "ReLU", "Tanh", None)


@dataclass(frozen=True)
class Node:
    """A tensor (``kind='tensor'``, with its shape as a column vector), an operation
    (``'op'``) or a layer's parameters (``'param'``), at position (x, y) of the drawing."""
    label: str
    kind: str
    x: float
    y: float
    shape: str = ""


@dataclass(frozen=True)
class Edge:
    """An arrow from node ``start`` to node ``end`` (indices): ``'forward'`` or ``'backward'``;
    a backward edge's ``label`` is the paper's equation that computes it."""
    start: int
    end: int
    direction: str
    label: str = ""


def computational_graph(sizes: Sequence[int] = PAPER_SIZES,
                        activations: Sequence[str | None] = PAPER_ACTIVATIONS) -> tuple[list[Node], list[Edge]]:
    """The computational graph of an MLP followed by the squared-error loss (eq. (1)), as data.

    Parameters:
        - ``sizes``: the layer widths, input first (``(2, 25, 25, 25, 2)``).
        - ``activations``: one name per layer (``'ReLU'``, ``'Tanh'``) or None for none.

    Returns:
        ``(nodes, edges)``: the ``Node``s at their drawing positions and the ``Edge``s between
        them (indices into ``nodes``), forward and backward.
    """
    if len(sizes) < 2 or any(not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"computational_graph sizes: expected at least two positive widths, got {sizes!r}")
    if len(activations) != len(sizes) - 1:
        raise ValueError(f"computational_graph activations: expected one per layer ({len(sizes) - 1}), "
                         f"got {len(activations)}")
    nodes: list[Node] = []
    edges: list[Edge] = []

    def add(node: Node) -> int:
        nodes.append(node)
        return len(nodes) - 1

    position = 0.0
    current = add(Node("$x^{(0)}$", "tensor", position, 0.0, f"({sizes[0]}, 1)"))
    for l, (width, activation) in enumerate(zip(sizes[1:], activations), start=1):
        linear = add(Node("Linear", "op", position + 1, 0.0))
        params = add(Node(f"$w^{{({l})}}, b^{{({l})}}$", "param", position + 1, 1.0,
                          f"({width}, {sizes[l - 1]}), ({width}, 1)"))
        name = "s" if activation is not None else "x"         # no activation: x^(l) = s^(l)
        summation = add(Node(f"${name}^{{({l})}}$", "tensor", position + 2, 0.0, f"({width}, 1)"))
        edges += [Edge(current, linear, "forward"), Edge(params, linear, "forward"),
                  Edge(linear, summation, "forward"),
                  Edge(summation, current, "backward", "(2)"), Edge(linear, params, "backward", "(4), (5)")]
        position += 2
        current = summation
        if activation is not None:
            op = add(Node(activation, "op", position + 1, 0.0))
            output = add(Node(f"$x^{{({l})}}$", "tensor", position + 2, 0.0, f"({width}, 1)"))
            edges += [Edge(current, op, "forward"), Edge(op, output, "forward"),
                      Edge(output, current, "backward", "(3)")]
            position += 2
            current = output
    loss = add(Node("MSE", "op", position + 1, 0.0))
    target = add(Node("$t$", "tensor", position + 1, 1.0, f"({sizes[-1]}, 1)"))
    value = add(Node(r"$\ell$", "tensor", position + 2, 0.0, "()"))
    edges += [Edge(current, loss, "forward"), Edge(target, loss, "forward"), Edge(loss, value, "forward"),
              Edge(value, current, "backward", "(1)")]
    return nodes, edges


def draw_computational_graph(ax, sizes: Sequence[int] = PAPER_SIZES,
                             activations: Sequence[str | None] = PAPER_ACTIVATIONS) -> tuple[list[Node], list[Edge]]:
    """Draw ``computational_graph(sizes, activations)`` on ``ax``: tensors as circles (their
    shapes below, the paper's column vectors), operations as boxes, parameters above their
    ``Linear``; forward arrows in black, backward arrows in red below the chain (and up to the
    parameters), each labelled with the paper's equation that computes it.

    Returns:
        ``(nodes, edges)``, the graph that was drawn.
    """

    nodes, edges = computational_graph(sizes, activations)
    backward_y = -0.75
    for node in nodes:
        if node.kind == "tensor":
            ax.add_patch(Circle((node.x, node.y), 0.3, facecolor="white", edgecolor="black", zorder=2))
            ax.text(node.x, node.y - 0.42 if node.y == 0 else node.y + 0.42, node.shape, ha="center",
                    va="top" if node.y == 0 else "bottom", fontsize=7, color="dimgrey")
        else:
            width, height = (0.7, 0.36) if node.kind == "op" else (0.95, 0.4)
            colour = "lightsteelblue" if node.kind == "op" else "lightyellow"
            ax.add_patch(FancyBboxPatch((node.x - width / 2, node.y - height / 2), width, height,
                                        boxstyle="round,pad=0.04", facecolor=colour, edgecolor="black", zorder=2))
            if node.kind == "param":
                ax.text(node.x, node.y + 0.28, node.shape, ha="center", va="bottom", fontsize=7, color="dimgrey")
        ax.text(node.x, node.y, node.label, ha="center", va="center", zorder=3,
                fontsize=10 if node.kind == "tensor" else 8)
    for edge in edges:
        a, b = nodes[edge.start], nodes[edge.end]
        if edge.direction == "forward":
            ax.annotate("", xy=_border(b, a), xytext=_border(a, b),
                        arrowprops=dict(arrowstyle="-|>", color="black", shrinkA=0, shrinkB=0))
        elif b.kind == "param":          # dl/dw, dl/db: from the Linear up to its parameters
            ax.annotate("", xy=(b.x + 0.2, b.y - 0.24), xytext=(a.x + 0.2, a.y + 0.22),
                        arrowprops=dict(arrowstyle="-|>", color="tab:red", linestyle="--", shrinkA=0, shrinkB=0))
            ax.text(a.x + 0.27, 0.5, edge.label, color="tab:red", fontsize=7, ha="left", va="center")
        else:                            # dl/d(input) from dl/d(output), one step to the left
            ax.annotate("", xy=(b.x, backward_y), xytext=(a.x, backward_y),
                        arrowprops=dict(arrowstyle="-|>", color="tab:red", shrinkA=2, shrinkB=2))
            ax.text((a.x + b.x) / 2, backward_y - 0.08, edge.label, color="tab:red", fontsize=8,
                    ha="center", va="top")
    right = max(node.x for node in nodes)
    ax.text(-0.4, -1.3, "black: the forward pass.   red: the backward pass; each arrow is the paper's "
            "equation (n) applied to the gradient it starts from.   shapes: the paper's column vectors",
            fontsize=8, ha="left", va="center")
    ax.set_xlim(-0.5, right + 0.5)
    ax.set_ylim(-1.45, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return nodes, edges


def _border(node: Node, toward: Node) -> tuple[float, float]:
    """The point where an arrow between ``node`` and ``toward`` (in a row or a column) leaves
    ``node``'s circle or box."""
    half_width, half_height = (0.3, 0.3) if node.kind == "tensor" else (0.39, 0.22) if node.kind == "op" else (0.52, 0.24)
    if toward.y == node.y:
        return (node.x + (half_width if toward.x > node.x else -half_width), node.y)
    return (node.x, node.y + (half_height if toward.y > node.y else -half_height))


def node_key(node: Node) -> str:
    """The short name of a node's tensor: ``'x0'``, ``'s1'``, ``'t'``, ``'l'``, and ``'w1'`` for
    the parameters of layer 1 (their value and gradient are ``'w1'``, ``'b1'``)."""
    return "".join(ch for ch in node.label.split(",")[0] if ch.isalnum()).replace("ell", "l")


def _compact(value: torch.Tensor | float) -> str:
    """A tensor's numbers as a short string: ``(2, -0.5)`` for a vector, rows joined by ``;``."""
    if not isinstance(value, torch.Tensor):
        return f"{value:g}"
    rows = value.reshape(-1, value.shape[-1]) if value.dim() else value.reshape(1, 1)
    text = "; ".join(", ".join(f"{v:g}" for v in row.tolist()) for row in rows)
    return text if value.dim() == 0 else f"({text})"


def draw_worked_example(ax, values: dict[str, torch.Tensor], gradients: dict[str, torch.Tensor],
                        activation: str = "ReLU") -> None:
    r"""Draw the computational graph of a network with one hidden layer, input -> ``Linear`` ->
    ``activation`` -> ``Linear`` -> MSE, with every value (black, above its node) and every
    gradient :math:`\partial\ell/\partial\cdot` (red, below it).

    ``values`` and ``gradients`` map ``node_key`` names to tensors: ``'x0'``, ``'s1'``, ``'x1'``,
    ``'x2'`` (the output), ``'t'``, ``'l'``, and ``'w1'``, ``'b1'``, ``'w2'``, ``'b2'``; a name left
    out is not written (no gradient for ``t`` and ``l``, say).

    Raises:
        ``ValueError`` naming a key that is not a node of this graph.
    """
    widths = (values["x0"].shape[-1], values["x1"].shape[-1], values["x2"].shape[-1])
    nodes, _ = draw_computational_graph(ax, widths, (activation, None))
    known = {node_key(n) for n in nodes} | {f"b{k[1:]}" for k in (node_key(n) for n in nodes if n.kind == "param")}
    unknown = sorted((set(values) | set(gradients)) - known)
    if unknown:
        raise ValueError(f"draw_worked_example: expected names among {sorted(known)}, got {unknown}")
    for node in nodes:
        key = node_key(node)
        if node.kind == "tensor":
            if key in values:
                ax.text(node.x, node.y + 0.62, _compact(values[key]), ha="center", va="bottom", fontsize=8)
            if key in gradients:
                ax.text(node.x, -1.05, _compact(gradients[key]), ha="center", va="top", fontsize=8, color="tab:red")
        elif node.kind == "param":
            bias = "b" + key[1:]
            lines = [f"w = {_compact(values[key])}" if key in values else "",
                     f"b = {_compact(values[bias])}" if bias in values else ""]
            ax.text(node.x, node.y + 0.55, "\n".join(line for line in lines if line), ha="center", va="bottom", fontsize=8)
            grads = [f"dl/dw = {_compact(gradients[key])}" if key in gradients else "",
                     f"dl/db = {_compact(gradients[bias])}" if bias in gradients else ""]
            ax.text(node.x + 0.55, node.y, "\n".join(g for g in grads if g), ha="left", va="center", fontsize=8,
                    color="tab:red")
    ax.text(-0.55, 0.62, "value", ha="right", va="bottom", fontsize=8)
    ax.text(-0.55, -1.05, "gradient", ha="right", va="top", fontsize=8, color="tab:red")
    ax.set_xlim(-1.3, max(node.x for node in nodes) + 0.5)
    ax.set_ylim(-1.7, 2.6)
