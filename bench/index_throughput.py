"""Indexer throughput: `--engine local` against `--engine ray` with 1 and 2 workers, on generated images.

    python bench/index_throughput.py [--images 2000] [--model tiny-scenes] [--backend torch] [--batch-size 64]

Writes --images PNGs (224 px, shapes on colours: clipdemo.engine.backends.probe_images) to a temp folder, then
builds a fresh store from it with each engine in this one run, and prints images/s for the embedding phase
(from the first batch to the last shard: Ray's includes starting its actors and loading the model in each)
and for the whole run (listing, model load, commit, FAISS index), the ratio to --engine local, and the peak
memory of this process and every process it started (Ray's raylet, GCS and workers), sampled every 0.2 s.
Ray runs in this process on all of this machine's CPUs (RAY_NUM_CPUS to change), started once after the
local run (its start is printed, not counted); a last local run over the built store shows what resuming costs.
The machine's torch fp32 matmul rate, measured in the same run, is printed beside the local rate: the local
engine is compute-bound, so a run on a busier or slower day compares by images/s per GFLOP/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zero_shot_1000_labels import matmul_rate  # noqa: E402

from clipdemo.engine.backends import BACKENDS, probe_images
from clipdemo.search import index_source


def _rss_tree(root: int) -> int:
    """Resident bytes of `root` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakMemory:
    """Samples the process tree's resident memory in a thread; `.peak` in bytes."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak, self._stop = every, 0, threading.Event()

    def __enter__(self):
        self.peak = _rss_tree(os.getpid())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, _rss_tree(os.getpid()))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def make_images(folder: Path, n: int) -> None:
    """n PNGs in subfolders of 1,000 (the reader recurses)."""
    for start in range(0, n, 100):
        for i, im in enumerate(probe_images(min(100, n - start), seed=start), start):
            sub = folder / f"{i // 1000:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            im.save(sub / f"img{i:05d}.png")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--model", default="tiny-scenes")
    p.add_argument("--backend", default="torch", choices=BACKENDS)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="clipdemo-index-bench-"))
    try:
        start = time.perf_counter()
        make_images(work / "images", args.images)
        print(f"generated {args.images} images in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        from clipdemo.search.ray_engine import ensure_ray

        rate_before = max(matmul_rate(2048, 3) for _ in range(3))  # as bench/cpu_backends.py
        rows, ray, ray_start = [], None, 0.0
        for engine, workers in [("local", 1), ("ray", 1), ("ray", 2)]:
            if engine == "ray" and ray is None:  # after the local run, so its memory is its own
                start = time.perf_counter()
                ray = ensure_ray()
                ray_start = time.perf_counter() - start
            out = work / f"store-{engine}-{workers}"
            with PeakMemory() as mem:
                report = index_source(str(work / "images"), str(out), model=args.model, engine=engine,
                                      backend=args.backend, batch_size=args.batch_size, concurrency=workers,
                                      progress=False)
            assert report.embedded == args.images, report.summary()
            rows.append((f"{engine}" + (f", {workers} worker{'s' if workers > 1 else ''}" if engine == "ray" else ""),
                         report, mem.peak))
            print(f"  {rows[-1][0]}: {report.seconds:.1f} s", file=sys.stderr)
        ray.shutdown()
        with PeakMemory() as mem:
            resumed = index_source(str(work / "images"), str(work / "store-local-1"), model=args.model,
                                   backend=args.backend, progress=False)
        assert resumed.embedded == 0

        base = args.images / rows[0][1].embed_seconds
        print(f"{args.images} generated 224 px PNGs, model {args.model}, backend {args.backend}, batch "
              f"{args.batch_size}, {os.cpu_count()} CPUs; Ray started in {ray_start:.1f} s (not counted)")
        print(f"{'engine':18}{'embed img/s':>12}{'vs local':>9}{'whole run':>11}{'img/s':>8}{'peak RSS':>10}")
        for name, report, peak in rows:
            rate = args.images / report.embed_seconds
            print(f"{name:18}{rate:12.1f}{rate / base:8.2f}x{report.seconds:10.1f}s{args.images / report.seconds:8.1f}"
                  f"{peak / 2**20:8.0f} MB")
        gflops = (rate_before + max(matmul_rate(2048, 3) for _ in range(3))) / 2e9  # around the runs
        print(f"torch fp32 matmul (2048x2048) in this run: {gflops:.0f} GFLOP/s; local embedding "
              f"{base / gflops * 100:.0f} images/s per 100 GFLOP/s")
        print(f"{'resume (local)':18}{'-':>12}{'':9}{resumed.seconds:10.1f}s{'':8}{mem.peak / 2**20:8.0f} MB"
              f"   (0 embedded, {resumed.reused} unchanged)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
