"""Training on a tiny synthetic cache: the run folder, every method, resume, refusals."""

import json

import pytest
import torch

from gradseg.train import train


def test_tiny_run_loss_falls_and_writes_checkpoints(trained):
    out, summary = trained
    assert summary["steps"] == 40
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [10, 20, 30, 40]
    assert recs[-1]["loss"] < recs[0]["loss"]
    assert all(0 <= r["val_dice"] <= 1 for r in recs)
    for name in ("best.pt", "last.pt", "val.png", "config.json", "split.json", "summary.json"):
        assert (out / name).is_file(), name
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 40 and isinstance(ckpt["config"], str)
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == 2 and not set(split["val"]) & set(split["train"])


@pytest.mark.parametrize("method", ["gazesup", "full"])
def test_other_methods_train(toy_cache, tiny, tmp_path, method):
    s = train(tiny(toy_cache(), tmp_path / method, method=method, iterations=4), progress=False)
    assert s["steps"] == 4 and (tmp_path / method / "best.pt").is_file()


def test_held_out_ids_are_never_used(toy_cache, tmp_path, gradseg_cli):
    held = tmp_path / "test.txt"
    held.write_text("toy000\ntoy005\n")
    code, _, err = gradseg_cli("train", "--cache", toy_cache(), "--out", tmp_path / "r",
                               "--iterations", "2", "--batch-size", "4", "--base-channels", "4",
                               "--threads", "1", "--test-ids", held, "--quiet")
    assert code == 0, err
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    assert split["held_out"] == ["toy000", "toy005"]
    assert not {"toy000", "toy005"} & set(split["train"] + split["val"])


def _same_run_state(a_path, b_path):
    a = torch.load(a_path, weights_only=True)
    b = torch.load(b_path, weights_only=True)
    assert a["step"] == b["step"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    return a, b


def test_resume_equals_straight_run(toy_cache, tiny, tmp_path):
    cfg = dict(iterations=9, checkpoint_every=100)
    train(tiny(toy_cache(), tmp_path / "a", **cfg), progress=False)
    s1 = train(tiny(toy_cache(), tmp_path / "b", **cfg), stop_after=5, progress=False)
    assert s1["steps"] == 5
    s2 = train(tiny(toy_cache(), tmp_path / "b", **cfg), resume=True, progress=False)
    assert s2["steps"] == 9
    a, b = _same_run_state(tmp_path / "a" / "last.pt", tmp_path / "b" / "last.pt")
    assert a["step"] == 9
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)


def test_resume_refuses_other_settings(toy_cache, tiny, tmp_path):
    train(tiny(toy_cache(), tmp_path / "r", iterations=2), progress=False)
    with pytest.raises(Exception, match="different settings"):
        train(tiny(toy_cache(), tmp_path / "r", iterations=2, lr=0.5), resume=True,
              progress=False)
    with pytest.raises(Exception, match="already holds checkpoints"):
        train(tiny(toy_cache(), tmp_path / "r", iterations=2), progress=False)


def test_cache_problems_are_one_line_errors(toy_cache, tmp_path, gradseg_cli):
    code, _, err = gradseg_cli("train", "--cache", tmp_path / "nope.zarr", "--out",
                               tmp_path / "r")
    assert code == 1 and "cache not found" in err and "Traceback" not in err
    (tmp_path / "plain").mkdir()
    code, _, err = gradseg_cli("train", "--cache", tmp_path / "plain")
    assert code == 1 and "gazeprep" in err
    inc = toy_cache(n=4, size=16, levels=2, complete=False)
    code, _, err = gradseg_cli("train", "--cache", inc, "--out", tmp_path / "r")
    assert code == 1 and "incomplete" in err


def test_unknown_method_and_missing_cache_are_usage_errors(gradseg_cli, flat):
    code, _, err = gradseg_cli("train", "--cache", "x.zarr", "--method", "unet")
    assert code == 2 and "'unet' is not one of" in flat(err) and "gradtrack+fgi" in err
    assert gradseg_cli("train")[0] == 2
