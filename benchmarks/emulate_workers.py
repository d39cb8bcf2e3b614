"""N-MNIST emulation time with one worker process against several, on the same images.

``emulate_dataset(..., workers=k)`` splits the batches over ``k`` processes; the files must come
out the same bit for bit, so this script checks that too. Runs alternate (1, k, 1, k, ...) so that
machine noise hits both alike; the table gives each run's median seconds, recordings per second
and the speed-up over one worker, with the load average before and after.

    python benchmarks/emulate_workers.py --images 2048 --workers 2 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.bin"))}


def main(argv: list[str] | None = None) -> list[dict]:
    """Print the table; return its rows (workers, median s, recordings/s, speed-up)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2048, help="shipped digits to emulate")
    parser.add_argument("--workers", type=int, default=2, help="the several-process run")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from bna_zoo.data.digits import load_digits
    from bna_zoo.data.emulate import emulate_dataset

    images, labels = load_digits()
    images, labels = images[:args.images], labels[:args.images]
    load_before = os.getloadavg()
    times: dict[int, list[float]] = {1: [], args.workers: []}
    outputs: dict[int, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for k in times:
                out = Path(tmp) / f"{k}-{r}"
                start = time.perf_counter()
                emulate_dataset(images, labels, str(out), "test", workers=k)
                times[k].append(time.perf_counter() - start)
                outputs.setdefault(k, _files(out))
    load_after = os.getloadavg()
    same = outputs[1] == outputs[args.workers]
    base = statistics.median(times[1])
    rows = []
    for k, t in times.items():
        med = statistics.median(t)
        rows.append({"workers": k, "seconds": med, "per_s": len(images) / med,
                     "speedup": base / med})
    print(f"{len(images)} recordings, {args.repeats} runs each, alternating; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; {os.cpu_count()} CPUs")
    print("| workers | median s | recordings/s | speed-up vs 1 |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['workers']} | {row['seconds']:.1f} | {row['per_s']:.0f} | "
              f"{row['speedup']:.2f}x |")
    print(f"files identical bit for bit: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit("the several-process run wrote different files")
    return rows


if __name__ == "__main__":
    main()
