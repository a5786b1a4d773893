"""FGIConfig: FGI's defaults, round trip through a run configuration, bad values."""

import json

import pytest

from gradseg.methods.fgi.config import FGIConfig


def test_defaults_are_fgis_values():
    c = FGIConfig()
    assert (c.darm_ratio, c.darm_block, c.noise, c.cutmix_beta) == (0.3, (3, 10), 0.2, 4)
    assert (c.cps_pos, c.cps_neg, c.feat_beta, c.feat_weight) == (0.8, 0.2, 0.5, 0.1)
    assert (c.rampup_iters, c.rampup_gain, c.thresholds) == (4000, 5.0, [0.5, 0.3])
    assert (c.teacher_width, c.norm, c.heads, c.sup_loss, c.infer) == (2, "group", 8, "bce",
                                                                        "student")
    assert c.mask_source == "heatmap" and not c.attention
    assert FGIConfig(method="gradtrack+fgi").mask_source == "tracks"


def test_run_config_round_trip():
    c = FGIConfig(method="gradtrack+fgi", levels=3, darm_ratio=0.2, darm_block=(2, 6),
                  text_dim=768)
    run = {"method": "gradtrack+fgi", "levels": 3, "base_channels": 32, "lr": 1e-3,
           "fgi": c.to_config()}
    run = json.loads(json.dumps(run))  # as stored in config.json and checkpoints
    assert run["fgi"]["darm_ratio"] == 0.2 and "method" not in run["fgi"]
    back = FGIConfig.from_config(run)
    assert back == c
    assert FGIConfig.from_config({"method": "fgi"}) == FGIConfig()
    assert FGIConfig.from_config({"method": "fgi", "fgi": {}}) == FGIConfig()


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown FGI setting.*darm_ratios"):
        FGIConfig.from_config({"method": "fgi", "fgi": {"darm_ratios": 0.2}})


@pytest.mark.parametrize("bad", [
    {"method": "gazesup"}, {"thresholds": [0.5]}, {"darm_ratio": 1.5}, {"darm_block": (5, 3)},
    {"cutmix_beta": 2.5}, {"cps_pos": 0.3}, {"source": "mask"}, {"norm": "layer"},
    {"infer": "both"}, {"text_dim": 0},
])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError, match="invalid FGI setting"):
        FGIConfig(**bad)


def test_norm_and_inference_names_match_the_models():
    from gradseg.methods.fgi import config
    from gradseg.models.fgi import INFER
    from gradseg.models.unet import NORMS

    assert config.NORMS == NORMS and config.INFER == INFER
