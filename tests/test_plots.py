"""Pictures of a sample going through a network."""

import torch
from PIL import Image

from bna_zoo.bna_model import BNAModel
from bna_zoo.plots import plot_sample


def test_plot_sample_writes_a_png_with_a_raster_row_per_spiking_layer(tmp_path):
    torch.manual_seed(0)
    model = BNAModel("nmnist-cnn", arch_overrides={"conv_weight_scale": 8.0})
    frames = (torch.rand(30, 2, 34, 34) < 0.05).float()
    out = plot_sample(model, frames, label=3, out=tmp_path / "s.png")
    image = Image.open(out)
    assert image.format == "PNG"
    # three spiking layers + input row + output row: taller than a single-row figure
    assert image.size[1] > image.size[0] * 0.5


def test_plot_sample_accepts_a_static_image(tmp_path):
    model = BNAModel("fashionmnist-mlp")
    out = plot_sample(model, torch.randn(1, 28, 28), label=None, out=tmp_path / "i.png")
    assert Image.open(out).format == "PNG"


def test_output_raster_has_one_labelled_row_per_class(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at it
    model = BNAModel.from_pretrained("fashionmnist-mlp")
    x = torch.zeros(1, 28, 28)
    x[:, 8:20, 12:16] = 2.0  # a bright bar: some output spikes
    plot_sample(model, x, label=1, out=tmp_path / "o.png", class_names=model.labels)
    (fig,) = figures
    raster = next(ax for ax in fig.axes if ax.get_ylabel().endswith("class"))
    assert [t.get_text() for t in raster.get_yticklabels()] == model.labels
    for dots in raster.collections:  # each spike sits on its class's row
        assert all(0 <= y < len(model.labels) for _, y in dots.get_offsets())


def test_render_example_draws_a_digit_beside_its_emulated_frames(tmp_path):
    from bna_zoo.plots import render_example

    events = render_example(str(tmp_path / "e.png"), index=5, n_frames=3)
    assert len(events) > 0 and events["t"].max() < 400_000
    image = Image.open(tmp_path / "e.png")
    assert image.format == "PNG" and image.size[0] > image.size[1]  # two rows of four panels
