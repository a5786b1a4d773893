"""The GPU code paths of the trainer, run on the CPU where they can be: bf16 autocast,
channels-last, DataLoader workers (persistent, prefetching), pinned memory, losses read every N
steps, torch.compile for every method; and the published protocol's settings (SGD, the cosine
to lr_min, GroupNorm, flips, the ablations' settings)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from gradseg.data.loader import loader_options
from gradseg.errors import GradsegError
from gradseg.train import train

METHODS = ["gradtrack", "gazesup", "full", "fgi", "gradtrack+fgi"]


def _weights(path):
    return torch.load(path, weights_only=True)["model"]


@pytest.mark.parametrize("method", METHODS)
def test_bf16_autocast_step_on_cpu(toy_cache, tiny, tmp_path, method):
    s = train(tiny(toy_cache(), tmp_path / "r", method=method, iterations=2, amp=True),
              progress=False)
    assert s["steps"] == 2 and torch.isfinite(torch.tensor(s["final_loss"]))


def test_channels_last_gives_the_same_run(toy_cache, tiny, tmp_path):
    cache = toy_cache()
    plain = train(tiny(cache, tmp_path / "a", iterations=3, channels_last=False), progress=False)
    cl = train(tiny(cache, tmp_path / "b", iterations=3, channels_last=True), progress=False)
    assert cl["first_loss"] == pytest.approx(plain["first_loss"], rel=1e-4)
    assert cl["final_loss"] == pytest.approx(plain["final_loss"], rel=1e-3)
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["channels_last"] is True


def test_workers_give_the_batches_of_the_main_process(toy_cache, tiny, tmp_path):
    """Two persistent, prefetching workers (fork server) train bit for bit like none."""
    cache = toy_cache()
    kw = dict(iterations=7, eval_every=3, checkpoint_every=100)
    train(tiny(cache, tmp_path / "w0", workers=0, **kw), progress=False)
    s = train(tiny(cache, tmp_path / "w2", workers=2, prefetch=2, **kw), progress=False)
    assert s["steps"] == 7
    a, b = _weights(tmp_path / "w0" / "last.pt"), _weights(tmp_path / "w2" / "last.pt")
    assert all(torch.equal(v, b[k]) for k, v in a.items())


def test_loader_options_pin_memory_only_for_cuda():
    def run(device, workers, in_memory=False):
        return SimpleNamespace(workers=workers, proc=SimpleNamespace(device=torch.device(device)),
                               cfg=SimpleNamespace(prefetch=3, in_memory=in_memory))

    assert loader_options(run("cpu", 0)) == {"num_workers": 0, "pin_memory": False}
    opts = loader_options(run("cuda", 4))  # only the options: no CUDA is touched
    assert opts["pin_memory"] and opts["persistent_workers"] and opts["prefetch_factor"] == 3
    assert opts["multiprocessing_context"].get_start_method() in ("forkserver", "spawn")
    assert "multiprocessing_context" not in loader_options(run("cuda", 4, in_memory=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pinned_memory_run_on_cuda(toy_cache, tiny, tmp_path):
    s = train(tiny(toy_cache(), tmp_path / "g", iterations=4, device="cuda", workers=2),
              progress=False)
    assert s["steps"] == 4 and s["peak_memory"] == "cuda max allocated"
    assert s["peak_memory_mb"] > 0


def test_losses_read_every_n_steps_are_the_losses_of_every_step(toy_cache, tiny, tmp_path):
    cache = toy_cache()
    every = train(tiny(cache, tmp_path / "a", iterations=7, log_every=1), progress=False)
    some = train(tiny(cache, tmp_path / "b", iterations=7, log_every=4), progress=False)
    assert (some["first_loss"], some["final_loss"]) == (every["first_loss"],
                                                        every["final_loss"])
    rows = [(tmp_path / r / "metrics.jsonl").read_text() for r in "ab"]
    assert rows[0].count("\n") == rows[1].count("\n") == 1  # validation at step 7 only
    assert json.loads(rows[0])["loss"] == json.loads(rows[1])["loss"]


def test_a_non_finite_loss_names_its_step_when_read_later(toy_cache, tiny, tmp_path,
                                                          monkeypatch):
    from gradseg.methods.gradtrack import GradTrack

    real = GradTrack.objective
    calls = []

    def objective(self, out, batch):
        loss, parts = real(self, out, batch)
        calls.append(1)
        return (loss * float("nan") if len(calls) == 3 else loss), parts

    monkeypatch.setattr(GradTrack, "objective", objective)
    with pytest.raises(GradsegError, match="loss became nan at step 3"):
        train(tiny(toy_cache(), tmp_path / "n", iterations=8, log_every=5), progress=False)


def test_sgd_cosine_to_lr_min_and_resume(toy_cache, tiny, tmp_path):
    cfg = dict(iterations=8, optimizer="sgd", lr=1e-2, lr_min=1e-4, warmup=0,
               weight_decay=4e-4, grad_clip=0.0, checkpoint_every=100, eval_every=4)
    train(tiny(toy_cache(), tmp_path / "a", **cfg), progress=False)
    train(tiny(toy_cache(), tmp_path / "b", **cfg), stop_after=3, progress=False)
    train(tiny(toy_cache(), tmp_path / "b", **cfg), resume=True, progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    group = a["optimizer"]["param_groups"][0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 4e-4
    assert group["lr"] == pytest.approx(1e-4)  # the end of the cosine
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"]) for i in sa)
    lrs = [json.loads(r)["lr"] for r in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] == pytest.approx(1e-4 + (1e-2 - 1e-4) * 0.5)  # half way down the cosine


def test_group_norm_and_flips(toy_cache, tiny, tmp_path):
    s = train(tiny(toy_cache(), tmp_path / "g", iterations=2, norm="group",
                   augmentation="flips"), progress=False)
    assert s["steps"] == 2
    from gradseg.checkpoint import load_model

    model, config = load_model(tmp_path / "g" / "best.pt")
    assert config["norm"] == "group" and config["augmentation"] == "flips"
    norms = {type(m).__name__ for m in model.modules() if "Norm" in type(m).__name__}
    assert norms == {"GroupNorm"}


def test_ablation_settings(toy_cache, tiny, tmp_path, gradseg_cli, flat):
    heat = train(tiny(toy_cache(), tmp_path / "h", iterations=2, seg_target="heatmap"),
                 progress=False)
    assert heat["steps"] == 2
    from gradseg.methods import get_method

    config = json.loads((tmp_path / "h" / "config.json").read_text())
    method = get_method(config)
    assert method.fields() == ("maps", "heatmap")
    heatmap = torch.tensor([[[[0.2, 0.5], [0.7, 0.49]]]])
    assert method.seg_mask({"heatmap": heatmap}).flatten().tolist() == [0, 1, 1, 0]
    no_att = train(tiny(toy_cache(), tmp_path / "a", iterations=2, att_weight=0.0),
                   progress=False)
    assert no_att["steps"] == 2
    code, _, err = gradseg_cli("train", "--cache", toy_cache(), "--out", tmp_path / "x",
                               "--method", "gazesup", "--seg-target", "heatmap")
    assert code == 2 and "--seg-target" in flat(err) and "only --method gradtrack" in flat(err)
    assert not (tmp_path / "x").exists()


def test_protocol_paper_fills_what_is_not_given(toy_cache, tmp_path, gradseg_cli):
    code, _, err = gradseg_cli("train", "--cache", toy_cache(), "--out", tmp_path / "p",
                               "--protocol", "paper", "--size", "32", "--base-channels", "4",
                               "--iterations", "2", "--threads", "1", "--quiet")
    assert code == 0, err
    c = json.loads((tmp_path / "p" / "config.json").read_text())
    assert (c["size"], c["base_channels"], c["iterations"]) == (32, 4, 2)  # given
    assert (c["optimizer"], c["lr"], c["lr_min"], c["weight_decay"], c["warmup"]) == (
        "sgd", 1e-2, 1e-4, 4e-4, 0)
    assert (c["norm"], c["augmentation"], c["batch_size"], c["grad_clip"]) == (
        "group", "flips", 8, 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gradtrack", "gazesup", "full", "gradtrack+fgi"])
def test_compile_every_method(toy_cache, tiny, tmp_path, method):
    """(fgi: tests/gradseg/train/test_train_fgi.py::test_compile.)"""
    cache = toy_cache(n=8, size=16, levels=2, seed=0)
    eager = train(tiny(cache, tmp_path / "e", method=method, iterations=2), progress=False)
    compiled = train(tiny(cache, tmp_path / "c", method=method, iterations=2, compile=True),
                     progress=False)
    assert compiled["steps"] == 2
    assert compiled["first_loss"] == pytest.approx(eager["first_loss"], rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", METHODS)
def test_no_host_sync_inside_the_step(toy_cache, tiny, tmp_path, method):
    """Data to the device, augmentation, forward, backward and update queue GPU work only:
    CUDA's sync debug mode turns any read-back to the host into an error."""
    from gradseg.train import Data, build_model, make_optimizers, set_up, train_step, wrap

    cfg = tiny(toy_cache(), tmp_path / "s", method=method, iterations=4, device="cuda",
               workers=0, amp=True, channels_last=True, augmentation="affine")
    run = set_up(cfg, resume=False)
    data = Data(run)
    model = build_model(run)
    opts = make_optimizers(run, model)
    nets = wrap(run, model)
    hosts = list(data.loader(0, 3))
    train_step(run, nets, opts, data.prepare(hosts[0]), 0)  # first step: lazy initialisation
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for k, host in enumerate(hosts[1:], 1):
            loss = train_step(run, nets, opts, data.prepare(host), k)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(loss).item()
