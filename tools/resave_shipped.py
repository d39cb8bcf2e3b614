"""Save shipped folders again in the current config.json format, weights byte for byte the same.

Usage (in a source checkout)::

    python tools/resave_shipped.py fashionmnist-mlp fashionmnist-cnn mnist-cnn

For each name: load ``bna_zoo/weights/NAME/`` (an older format is upgraded on reading), save it
with the same metrics and training record, and ship the new folder only if ``model.safetensors``
is byte for byte the same, the new ``config.json`` reads back as the same configuration, and the
model loaded from the new folder gives bit-identical outputs on seeded inputs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from bna_zoo.bna_model import BNAModel
from bna_zoo.hub import register_shipped
from bna_zoo.hub.checkpoint import read_config
from bna_zoo.models import get_entry


def _inputs(model: BNAModel, n: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    net = model.net
    if net.input_kind == "events":
        return (torch.rand(n, net.n_steps, *net.input_shape, generator=g) < 0.1).float()
    return torch.randn(n, *net.input_shape, generator=g)


def resave(name: str) -> None:
    """Re-save ``name``'s shipped folder (see the module docstring); SystemExit on a mismatch."""
    shipped = get_entry(name).shipped_dir
    before = read_config(shipped)  # the old file, as the current format reads it
    model = BNAModel.from_pretrained(f"local-dir:{shipped}")
    x = _inputs(model)
    with torch.no_grad():
        expected = model(x)
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save_pretrained(Path(tmp) / name, metrics=before.get("metrics"),
                                       dataset=before.get("dataset"),
                                       **(before.get("training") or {}))
        if (folder / "model.safetensors").read_bytes() != \
                (shipped / "model.safetensors").read_bytes():
            raise SystemExit(f"{name}: model.safetensors would change; nothing written")
        after = read_config(folder)
        changed = sorted(k for k in {*before, *after} if k not in ("bna_zoo_version",)
                         and before.get(k) != after.get(k))
        if changed:
            raise SystemExit(f"{name}: the configuration would change ({changed}); nothing "
                             "written")
        with torch.no_grad():
            if not torch.equal(BNAModel.from_pretrained(f"local-dir:{folder}")(x), expected):
                raise SystemExit(f"{name}: outputs would change; nothing written")
        register_shipped(name, folder)
    print(f"{name}: saved again as format {read_config(shipped)['format_version']}; weights and "
          "outputs unchanged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+")
    for name in parser.parse_args().names:
        resave(name)


if __name__ == "__main__":
    main()
