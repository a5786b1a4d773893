"""The methods by name: each builds its network(s), reads its fields, forms its loss."""

import typing

import pytest
import torch

from gradseg.methods import METHODS, build_model, get_method, method_class
from gradseg.methods.gradtrack import stage_order
from gradseg.models.unet import predict_logits


def _config(method, levels):
    return {"method": method, "levels": levels, "base_channels": 4, "thresholds": [0.5, 0.3],
            "map_order": "whole-first", "att_weight": 0.5, "seg_weight": 1.0,
            "consistency_weight": 1.0, "seed": 0, "fgi": {}}


def _batch(levels, s, b=2):
    return {"image": torch.rand(b, 3, s, s), "maps": torch.rand(b, levels, s, s),
            "pseudo": (torch.rand(b, 1, s, s) > 0.5).float(), "heatmap": torch.rand(b, 1, s, s),
            "mask": (torch.rand(b, 1, s, s) > 0.5).float()}


def _no_autocast():
    return torch.autocast("cpu", enabled=False)


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_builds_predicts_and_trains_every_network(name, levels):
    torch.manual_seed(0)
    config = _config(name, levels)
    method = get_method(config)
    model = build_model(config)
    s = 32
    assert predict_logits(model(torch.rand(2, 3, s, s))).shape == (2, 1, s, s)
    nets = method.networks(model)
    batch = _batch(levels, s)
    assert set(method.fields()) <= set(batch) - {"image"}
    loss, parts = method.loss(nets, batch, step=0, rank=0, autocast=_no_autocast)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(not p.requires_grad for p in parts.values())
    loss.backward()
    for net in nets.values():  # every trained network gets a gradient
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_loss_parts_per_method():
    parts = {}
    for name in ("gradtrack", "gazesup", "full"):
        torch.manual_seed(0)
        config = _config(name, 2)
        method, model = get_method(config), build_model(config)
        _, p = method.loss(method.networks(model), _batch(2, 16), step=0, rank=0,
                           autocast=_no_autocast)
        parts[name] = set(p)
    assert parts == {"gradtrack": {"seg", "att"}, "gazesup": {"seg", "cons"}, "full": {"seg"}}
    assert [m for m, c in METHODS.items() if c.uses_masks] == ["full"]


def test_unknown_method_names_the_known_ones():
    with pytest.raises(Exception, match="gradtrack, gazesup, full, fgi, gradtrack\\+fgi"):
        method_class("unet")


def test_cli_choices_are_the_registry():
    from gradseg import cli
    from gradseg.options import METHOD_NAMES

    assert typing.get_args(cli.Method) == METHOD_NAMES == tuple(METHODS)


def test_stage_order():
    assert stage_order(4, "whole-first") == [0, 1, 2, 3]
    assert stage_order(4, "tail-first") == [3, 2, 1, 0]
