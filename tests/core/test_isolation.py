"""bna_zoo.core depends on torch alone."""

import subprocess
import sys
import textwrap


def test_core_imports_with_lightning_tonic_and_hub_blocked():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                root = name.split(".")[0]
                if root in {"lightning", "pytorch_lightning", "tonic", "huggingface_hub",
                            "torchvision", "torchmetrics", "safetensors"}:
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import torch
        import bna_zoo.core as core
        x = torch.randn(2, 5, 3, requires_grad=True)
        core.na_lif(x).sum().backward()
        assert x.grad is not None
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
