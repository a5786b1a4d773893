"""Strict and loose pseudo-masks from the cache fields, for both sources."""

import pytest
import torch

from gradseg.data.cache import CacheDataset, open_cache
from gradseg.methods.fgi.config import FGIConfig
from gradseg.methods.fgi.masks import candidate_masks, fgi_fields, order_by_area, strict_loose


def test_order_by_area_hand_made():
    a = torch.zeros(3, 2, 2, 2)
    a[0, 0] = 1                      # sample 0: first larger -> swapped
    a[0, 1, 0, 0] = 1
    a[1, 0, 0, 0] = 1                # sample 1: already (smaller, larger)
    a[1, 1, 0] = 1
    a[2, 0, 0, 0] = 1                # sample 2: equal areas -> (first, second), as FGI
    a[2, 1, 1, 1] = 1
    s, lo = order_by_area(a)
    assert torch.equal(s[:, 0], torch.stack([a[0, 1], a[1, 0], a[2, 0]]))
    assert torch.equal(lo[:, 0], torch.stack([a[0, 0], a[1, 1], a[2, 1]]))


def test_more_than_two_levels_use_smallest_and_largest():
    heat = torch.linspace(0, 1, 100).view(1, 1, 10, 10)
    cfg = FGIConfig(thresholds=[0.5, 0.7, 0.3])
    s, lo = strict_loose({"heatmap": heat}, cfg)
    assert torch.equal(s, (heat >= 0.7).float()) and torch.equal(lo, (heat >= 0.3).float())


def test_heatmap_source_thresholds_as_fgi():
    heat = torch.tensor([[0.1, 0.3], [0.5, 0.9]]).view(1, 1, 2, 2)
    s, lo = strict_loose({"heatmap": heat}, FGIConfig())
    assert s.view(-1).tolist() == [0, 0, 1, 1]
    assert lo.view(-1).tolist() == [0, 1, 1, 1]


def test_tracks_source_hand_made():
    pseudo = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    maps = torch.tensor([[[0.2, 0.5], [0.1, 0.0]], [[0.2, 0.3], [0.6, 0.0]]]).view(1, 2, 2, 2)
    cfg = FGIConfig(method="gradtrack+fgi", levels=2)
    assert cfg.mask_source == "tracks"
    s, lo = strict_loose({"pseudo": pseudo, "maps": maps}, cfg)
    # mean maps = [[0.2, 0.4], [0.35, 0]] > 0.3 -> pixels 1 and 2 join the pseudo-mask.
    assert s.view(-1).tolist() == [1, 0, 0, 0]
    assert lo.view(-1).tolist() == [1, 1, 1, 0]


def test_fields_per_method_and_source():
    assert fgi_fields(FGIConfig()) == ("heatmap",)
    assert fgi_fields(FGIConfig(source="tracks")) == ("maps", "pseudo")
    assert fgi_fields(FGIConfig(method="gradtrack+fgi")) == ("maps", "pseudo")
    assert fgi_fields(FGIConfig(method="gradtrack+fgi", source="heatmap")) == ("heatmap", "maps")


@pytest.mark.parametrize("source", ["heatmap", "tracks"])
def test_masks_from_a_cache_batch(toy_cache, source):
    info = open_cache(toy_cache(n=6, size=32, levels=3, seed=4))
    cfg = FGIConfig(method="gradtrack+fgi", levels=3, source=source)
    ds = CacheDataset(info, list(range(6)), fgi_fields(cfg), 32)
    items = ds.__getitems__(list(range(6)))
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0] if k != "index"}
    cands = candidate_masks(batch, cfg)
    assert cands.shape == (6, 2, 32, 32)
    s, lo = strict_loose(batch, cfg)
    assert set(torch.unique(torch.cat([s, lo])).tolist()) <= {0.0, 1.0}
    assert (s.flatten(1).sum(1) <= lo.flatten(1).sum(1)).all()
    assert (s != lo).any()  # the two levels disagree somewhere: DARM has work
    if source == "tracks":
        assert (lo >= s).all()  # the loose mask contains the pseudo-mask pixel by pixel
