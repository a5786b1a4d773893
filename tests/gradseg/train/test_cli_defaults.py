"""Every default and choice of ``gradseg train`` comes from the settings dataclasses."""

from __future__ import annotations

import inspect
import typing

import pytest
import typer

from gradseg import cli, protocol_cli
from gradseg.config import CHOICES, VAL_TARGETS
from gradseg.methods import METHODS
from gradseg.methods.gradtrack import MAP_ORDERS
from gradseg.options import fgi_help, fgi_sets
from gradseg.settings import TrainConfig
from gradseg.settings.fgi import FGIConfig


def _options(command) -> dict:
    return {name: p.default for name, p in inspect.signature(command).parameters.items()
            if hasattr(p.default, "default")}


def test_train_defaults_are_the_train_config():
    want, got = TrainConfig(cache=""), _options(cli.train)
    # out: runs/<method> when not given (TrainConfig's is that of the default method)
    # val_ids: a file on the command line, the ids it holds in the settings
    shared = [k for k in got if k not in ("cache", "out", "val_ids") and hasattr(want, k)]
    assert len(shared) >= 30
    for k in shared:
        assert got[k].default == getattr(want, k), k
    assert got["thresholds_"].default == "0.5,0.3" and want.thresholds == [0.5, 0.3]


def test_train_choices_are_the_settings_choices():
    hints = typing.get_type_hints(cli.train)
    assert typing.get_args(hints["method"]) == tuple(METHODS)
    assert typing.get_args(hints["map_order"]) == MAP_ORDERS
    assert typing.get_args(hints["val_target"]) == VAL_TARGETS
    for key in CHOICES:
        assert typing.get_args(typing.get_type_hints(cli.train)[key]) == CHOICES[key], key
    assert protocol_cli.Optimizer.__args__ == CHOICES["optimizer"]


def test_every_fgi_option_states_fgi_default():
    opts, want = _options(cli.train), FGIConfig()
    fgi = {k[4:]: o for k, o in opts.items() if k.startswith("fgi_")}
    assert len(fgi) >= 15
    for key, option in fgi.items():
        assert option.default is None, key  # None = FGI's own value, stated in the help
        value = getattr(want, key)
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else (
            f"{value:g}" if isinstance(value, float) else str(value))
        assert option.help.endswith(f"(FGI: {shown})."), (key, option.help)
    assert fgi_help("rampup_iters", "x") == f"x (FGI: {want.rampup_iters})."


def test_train_help_groups_options_in_panels(run_cli):
    got = run_cli("gradseg", "train", "--help")
    assert got.returncode == 0
    order = [got.stdout.index(f"─ {panel} ") for panel in
             ("Data", "Model", "Optimisation", "Run", "FGI", "Protocol")]
    assert order == sorted(order)


def test_set_fgi_key_value():
    assert fgi_sets(["fgi.darm_ratio=0.2", "fgi.darm_block=2,8", "fgi.sup_loss=bce+dice",
                     "fgi.rampup_iters=320"]) == {
        "darm_ratio": 0.2, "darm_block": (2, 8), "sup_loss": "bce+dice", "rampup_iters": 320}
    with pytest.raises(typer.BadParameter, match="did you mean fgi.darm_ratio"):
        fgi_sets(["fgi.darm_ration=0.2"])
    with pytest.raises(typer.BadParameter, match="expected fgi.KEY=VALUE"):
        fgi_sets(["darm_ratio=0.2"])
    with pytest.raises(typer.BadParameter, match="is not a float"):
        fgi_sets(["fgi.darm_ratio=lots"])


def test_set_reaches_the_run_config(tmp_path, run_cli):
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "c.zarr")
    got = run_cli("gradseg", "train", "--cache", tmp_path / "c.zarr", "--method", "fgi",
                  "--iterations", "1", "--batch-size", "2", "--base-channels", "4",
                  "--set", "fgi.darm_ratio=0.25", "--threads", "1", "--quiet",
                  "--out", tmp_path / "run")
    assert got.returncode == 0, got.stderr
    import json

    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["fgi"]["darm_ratio"] == 0.25
    bad = run_cli("gradseg", "train", "--cache", tmp_path / "c.zarr", "--set", "fgi.nope=1")
    assert bad.returncode == 2 and "unknown FGI setting 'nope'" in bad.stderr
