"""Pictures of a sample going through a network."""

import torch
from PIL import Image

from bna_zoo.model import BNAModel
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
