"""bna_zoo.core depends on torch alone; Triton is imported only when its kernels are used."""

import subprocess
import sys
import textwrap


def test_core_imports_and_runs_on_cpu_with_lightning_tonic_hub_and_triton_blocked():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                root = name.split(".")[0]
                if root in {"lightning", "pytorch_lightning", "tonic", "huggingface_hub",
                            "torchvision", "torchmetrics", "safetensors"} | late:
                    raise ImportError(f"blocked: {name}")
        late = set()
        sys.meta_path.insert(0, Block())
        import torch
        assert "triton" not in sys.modules
        late.add("triton")  # torch probes for triton at import; bna_zoo.core must not need it
        import bna_zoo.core as core
        x = torch.randn(2, 5, 3, requires_grad=True)
        core.na_lif(x).sum().backward()
        assert x.grad is not None
        core.na_lif(x, backend="torch").sum().backward()
        assert "triton" not in sys.modules
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
