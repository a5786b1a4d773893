"""Scheduling a render's batches on ``jobs`` cores: in this process, or on worker processes.

The writer asks for the samples of each shard it writes, in order; :func:`rendered` yields
them. With one job, or too little work to share (:data:`MIN_POOL_SAMPLES`), every batch is
rendered here (numba and the image threads limited to ``jobs``). Otherwise each shard is cut
into units of at most :data:`UNIT` consecutive samples, rendered whole by worker processes
(decode, resize, maps, pseudo-mask refinement: each worker one core), while this process writes
the shards already done. Every sample is rendered on its own (nothing in a batch depends on the
other samples), so the arrays written are the same for any ``jobs``.

Processes, not threads: measured on the Kvasir-SEG render, the image threads of one process
kept about one core busy (the Python parts of decoding, colour conversion, watershed and the
kernels' callers hold the GIL), while the processes keep every core busy.

Memory stays flat as the dataset grows: at most :func:`in_flight` units are in flight and a
shard's units are released once it is written; nothing holds all images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from typing import TYPE_CHECKING

from gazeprep.contract.workers import prestart
from gazeprep.jobs import numba_threads, ordered, process_pool
from gazeprep.render.params import RenderParams

if TYPE_CHECKING:  # this module stays light: the render command imports it first
    from gazeprep.render.plan import Sample

#: Samples per task sent to a worker: small enough to keep every core busy to the end of a
#: render, large enough that the per-task costs (pickling, numba calls) do not show.
UNIT = 8
#: Fewer samples to render than this are rendered in this process: starting the workers (about
#: a second of one core) would cost more than sharing the work saves.
MIN_POOL_SAMPLES = 64
#: Modules the workers' fork server imports once (see :mod:`gazeprep.render._preload`).
PRELOAD = ("gazeprep.render._preload",)
#: Rendered units waiting to be written hold at most about this many bytes (besides the
#: shard being assembled): enough to keep the workers busy while a shard is written.
IN_FLIGHT_BYTES = 256 * 2**20

#: ``render(samples, params, threads) -> dict of arrays`` (``writer.render_samples``).
Render = Callable[[Sequence["Sample"], RenderParams, int], dict]


def warm_workers(jobs: int, samples: int) -> None:
    """Start loading the worker processes' libraries now when ``samples`` (an estimate is
    enough) will be rendered on them, so that it overlaps the caller's own start (its imports,
    planning, opening the cache)."""
    if jobs > 1 and samples >= MIN_POOL_SAMPLES:
        prestart(PRELOAD)


def units(samples: Sequence[Sample], groups: Sequence[Sequence[int]]
          ) -> list[tuple[int, list[int]]]:
    """(group number, sample indices) of each unit of work, in order.

    A group is cut into runs of at most :data:`UNIT` samples, except a group with slices of a
    volume or frames of a multi-frame file: it stays whole, so that the file is decoded by one
    worker rather than by each.
    """
    out = []
    for g, members in enumerate(groups):
        members = list(members)
        step = len(members) if any(samples[i].image.multi for i in members) else UNIT
        out += [(g, members[a:a + step]) for a in range(0, len(members), max(1, step))]
    return out


def in_flight(params: RenderParams, jobs: int) -> int:
    """Units submitted to the workers and not yet written: up to 4 per worker (the workers go
    on while this process writes a shard), fewer when large images would make that more than
    :data:`IN_FLIGHT_BYTES` (some workers then wait: memory first), never fewer than 2."""
    per_sample = (3 + params.levels + 3) * params.size**2  # image, maps, heatmap, pseudo, mask
    return max(2, min(4 * jobs, IN_FLIGHT_BYTES // max(1, UNIT * per_sample)))


def rendered(render: Render, samples: Sequence[Sample], groups: Sequence[Sequence[int]],
             params: RenderParams, jobs: int) -> Iterator[dict]:
    """``render`` of each group of sample indices, in order (see the module notes).

    Parameters
    ----------
    render : callable
        ``render(samples, params, threads)`` -> dict of arrays with the samples on axis 0
        (:func:`gazeprep.render.writer.render_samples`); a module-level function, as workers
        receive it by name.
    samples : sequence of Sample
    groups : sequence of sequence of int
        Indices into ``samples``: one batch each (a shard of the cache).
    params : RenderParams
    jobs : int
        Cores to use.

    Yields
    ------
    dict of str to ndarray
        One per group, rows in the group's order.
    """
    work = units(samples, groups)
    if jobs <= 1 or len(work) < 2 or sum(map(len, groups)) < MIN_POOL_SAMPLES:
        with numba_threads(jobs):
            for members in groups:
                yield render([samples[i] for i in members], params, jobs)
        return
    import numpy as np

    parts: list[dict] = []
    tasks = (([samples[i] for i in members], params, 1) for _, members in work)
    # Closing the results first cancels the units not started when the writer stops early.
    with process_pool(min(jobs, len(work)), PRELOAD) as pool, \
            closing(ordered(pool, render, tasks, ahead=in_flight(params, jobs))) as results:
        for k, res in enumerate(results):
            parts.append(res)
            if k + 1 == len(work) or work[k + 1][0] != work[k][0]:
                yield parts[0] if len(parts) == 1 else {
                    name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
                parts = []


__all__ = ["IN_FLIGHT_BYTES", "MIN_POOL_SAMPLES", "PRELOAD", "UNIT", "in_flight", "rendered",
           "units", "warm_workers"]
