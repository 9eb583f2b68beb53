"""`--engine ray`: the mapper on Ray Data actors, the shards written by the cluster.

    listing (driver) -> ray.data.from_pandas -> map_batches(ClipMapper, concurrency=N, num_gpus=G)
                     -> map_batches(to_table) -> write_parquet(shards/run-NNNN)

`ClipMapper` is a callable class, so each actor loads the model once and keeps it. Without RAY_ADDRESS Ray
starts in this process (num_cpus = this machine's cores unless RAY_NUM_CPUS says otherwise); with it, the
same code runs on that cluster (the source must then be readable from every node, e.g. s3://, and the
store a shared file system mounted at the same path on every node: the actors write its shards).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .mapper import ClipMapper
from .writer import to_table


def ensure_ray(num_cpus: int | None = None):
    """Connect to RAY_ADDRESS, or start a local Ray without the dashboard; a no-op when already running."""
    import ray

    if not ray.is_initialized():
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if not os.environ.get("RAY_ADDRESS"):
            kwargs["num_cpus"] = num_cpus or int(os.environ.get("RAY_NUM_CPUS", 0)) or os.cpu_count()
        ray.init(**kwargs)
    return ray


class ArrowClipMapper(ClipMapper):
    """The mapper, returning the shard's Arrow rows (one fused stage: no extra task between it and the write).

    `threads` sets torch's (and ONNX Runtime's) threads in the actor: Ray would otherwise pin each actor to
    one thread (OMP_NUM_THREADS=1), leaving cores idle when there are fewer actors than cores.
    """

    def __init__(self, threads: int | None = None, **kwargs):
        if threads:
            import torch

            torch.set_num_threads(threads)
        super().__init__(**kwargs)

    def __call__(self, batch: dict):
        return to_table(super().__call__(batch))


def run_ray(todo: pd.DataFrame, run_dir: Path, model: str, backend: str, device: str | None, batch_size: int,
            concurrency: int = 1, num_gpus: float = 0) -> None:
    """Embed `todo` (id, path, stamp) on Ray Data and write its shards into `run_dir`."""
    ray = ensure_ray()
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    actors = max(concurrency, 1)
    # blocks of about one batch, at most 8 per actor: the actors share them as they free up (no all-to-all
    # repartition: the driver hands Ray the blocks already cut)
    blocks = max(1, min(-(-len(todo) // batch_size), 8 * actors))
    ds = ray.data.from_pandas([todo.iloc[i::blocks].sort_values("id") for i in range(blocks)])
    local = not os.environ.get("RAY_ADDRESS")
    cpus = int(ray.cluster_resources().get("CPU", 1))
    threads = max(1, cpus // actors) if local else None
    # Locally the actors ask for a fraction of a CPU, so the driver's small tasks (the blocks, the writes)
    # always find one: with num_cpus=1 and as many actors as CPUs, Ray would wait on them forever.
    # Each actor still runs `threads` threads, so the cores are used.
    per_actor = (None if num_gpus else (0.5 * cpus / actors if local else 1))
    ds = ds.map_batches(ArrowClipMapper, fn_constructor_kwargs=dict(model=model, backend=backend, device=device,
                                                                    threads=threads),
                        batch_size=batch_size, batch_format="numpy",
                        compute=ray.data.ActorPoolStrategy(size=actors),
                        num_gpus=num_gpus or None, num_cpus=per_actor)
    ds.write_parquet(str(run_dir))
