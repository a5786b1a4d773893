"""Every command option defaults to its options class's value: one home for each default."""

from __future__ import annotations

import inspect

from gazeprep.commands.ingest import ingest
from gazeprep.commands.render import render
from gazeprep.commands.score import score
from gazeprep.commands.simulate import simulate
from gazeprep.inspect.score import score_cache
from gazeprep.read.options import IngestOptions
from gazeprep.render.params import RenderParams
from gazeprep.simulate.config import SimConfig


def _defaults(command) -> dict:
    return {name: p.default.default for name, p in inspect.signature(command).parameters.items()
            if hasattr(p.default, "default")}


def test_ingest_defaults_are_the_ingest_options():
    opts, got = IngestOptions(), _defaults(ingest)
    shared = [k for k in got if hasattr(opts, k)]
    assert len(shared) >= 20
    for k in shared:
        assert got[k] == getattr(opts, k), k
    assert IngestOptions(**{k: got[k] for k in shared}).params() == opts.params()


def test_render_defaults_are_the_tuned_render_params():
    p, got = RenderParams(), _defaults(render)
    shared = [k for k in got if hasattr(p, k) and k != "ratios"]  # no --ratios: 1 - k / L
    assert len(shared) >= 15
    for k in shared:
        assert got[k] == getattr(p, k), k
    assert got["points_only"] == (not p.segments) and got["ratios"] is None


def test_simulate_and_score_defaults():
    cfg, got = SimConfig(), _defaults(simulate)
    assert (got["images"], got["sessions"], got["size"], got["seed"], got["display"]) == (
        cfg.n_images, cfg.sessions, cfg.size, cfg.seed, cfg.display)
    want = inspect.signature(score_cache).parameters
    got = _defaults(score)
    assert got["level_threshold"] == want["level_threshold"].default == 0.5
    assert got["heatmap_threshold"] == want["heatmap_threshold"].default == 0.5
