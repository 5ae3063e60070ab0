"""minidl.lab.animation: snapshots of the weights while training, their pictures and the GIF."""
import hashlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image

from minidl import paper_model
from minidl.lab.animation import copy_state, plot_snapshots, train_with_snapshots, write_gif
from minidl.runs import make_run

SMALL = dict(n_train=60, n_validation=20, n_test=40)


@pytest.fixture(scope="module")
def trained():
    g, data, model = make_run(3, paper_model, **SMALL)
    initial = copy_state(model)
    history, snapshots = train_with_snapshots(model, *data[:4], epochs=4, loss="elementwise", generator=g)
    return data, model, initial, history, snapshots


def test_snapshots_are_the_weights_before_and_after_each_epoch(trained):
    data, model, initial, history, snapshots = trained
    assert len(snapshots) == 5 == len(history.history["loss"]) + 1
    assert all(torch.equal(snapshots[0][k], v) for k, v in initial.items())
    assert all(torch.equal(snapshots[-1][k], v) for k, v in model.state_dict().items())
    assert not torch.equal(snapshots[1]["0.weight"], snapshots[2]["0.weight"])     # training moved them


def test_training_is_exactly_fits(trained):
    """The snapshots draw no random numbers: same weights and history as fit alone."""
    data, model, _, history, _ = trained
    g, data2, alone = make_run(3, paper_model, **SMALL)
    reference = alone.fit(*data2[:4], epochs=4, loss="elementwise", generator=g)
    assert reference.history == history.history
    assert all(torch.equal(alone.state_dict()[k], v) for k, v in model.state_dict().items())


def test_snapshot_accuracy_matches_the_history(trained):
    """Loading snapshot e gives the training accuracy that fit recorded after epoch e."""
    data, model, _, history, snapshots = trained
    kept = copy_state(model)
    for epoch in (1, 4):
        model.load_state_dict(snapshots[epoch])
        assert model.evaluate(data[0], data[1])["accuracy"] == pytest.approx(history.history["accuracy"][epoch - 1])
    model.load_state_dict(kept)


def test_a_callback_of_ones_own_is_refused(trained):
    data, model, *_ = trained
    with pytest.raises(TypeError, match="callback is taken"):
        train_with_snapshots(model, *data[:2], epochs=1, callback=lambda e, logs: None)


def test_plot_snapshots_one_panel_per_epoch_and_weights_kept(trained, tmp_path):
    data, model, _, _, snapshots = trained
    before = copy_state(model)
    fig = plot_snapshots(model, snapshots, [0, 1, 4], data[4], data[5], tmp_path / "s.png", points="test points")
    assert len(fig.axes) == 3
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["epoch 0", "epoch 1", "epoch 4"]
    assert (tmp_path / "s.png").stat().st_size > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    plt.close(fig)
    with pytest.raises(ValueError, match="between 0 and 4"):
        plot_snapshots(model, snapshots, [5], data[4], data[5])


def test_gif_has_a_frame_per_snapshot_and_is_byte_stable(trained, tmp_path):
    data, model, _, _, snapshots = trained
    digests = []
    for name in ("a.gif", "b.gif"):
        frames = write_gif(tmp_path / name, model, snapshots, data[4], data[5], fps=2, resolution=30)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert frames == len(snapshots) + 2                       # the last frame held for a second
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames >= len(snapshots)
    assert digests[0] == digests[1]
    with pytest.raises(ValueError, match="at least one snapshot"):
        write_gif(tmp_path / "c.gif", model, [], data[4], data[5])
