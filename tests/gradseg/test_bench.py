"""`gradseg bench`: the loader, the step and both timed on a toy cache, on the CPU."""

import json

import pytest


def test_bench_reports_the_three_timings(toy_cache, gradseg_cli):
    code, out, err = gradseg_cli("bench", "--cache", toy_cache(), "--size", "32",
                                 "--base-channels", "4", "--batch-size", "4", "--steps", "3",
                                 "--warmup", "1", "--threads", "1", "--json")
    assert code == 0, err
    r = json.loads(out)
    for key in ("loader_images_s", "step_images_s", "train_images_s", "step_ms",
                "train_step_ms", "peak_memory_mb"):
        assert r[key] > 0, key
    assert 0 <= r["data_wait_share"] < 1
    assert r["peak_memory"] == "process peak RSS" and r["device"] == "cpu"
    # the protocol fills what was not given; what was given wins
    assert (r["size"], r["base_channels"], r["batch_size"]) == (32, 4, 4)
    assert r["augmentation"] == "flips" and r["method"] == "gradtrack"
    # the figures are of the same steps: images/s = batch / step time
    assert r["train_step_ms"] == pytest.approx(1000 * 4 / r["train_images_s"], rel=0.01)
    assert r["step_ms"] == pytest.approx(1000 * 4 / r["step_images_s"], rel=0.01)


@pytest.mark.parametrize("method", ["fgi", "full"])
def test_bench_other_methods_and_workers(toy_cache, gradseg_cli, method):
    code, out, err = gradseg_cli("bench", "--cache", toy_cache(), "--method", method,
                                 "--size", "32", "--base-channels", "4", "--batch-size", "4",
                                 "--steps", "2", "--warmup", "1", "--threads", "1",
                                 "--workers", "1", "--protocol", "none", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["method"] == method and r["workers"] == 1 and r["augmentation"] == "affine"


def test_bench_writes_nothing_and_refuses_bad_options(toy_cache, gradseg_cli, unchanged,
                                                      tmp_path):
    cache = toy_cache()
    check = unchanged(cache)
    code, _, _ = gradseg_cli("bench", "--cache", cache, "--size", "32", "--base-channels", "4",
                             "--batch-size", "4", "--steps", "1", "--warmup", "1",
                             "--threads", "1", "--json")
    assert code == 0
    check()
    assert gradseg_cli("bench", "--cache", cache, "--steps", "0")[0] == 2
    code, _, err = gradseg_cli("bench", "--cache", tmp_path / "none.zarr", "--size", "32")
    assert code == 1 and "cache not found" in err
