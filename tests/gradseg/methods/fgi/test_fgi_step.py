"""One FGI training step: loss, gradients of both networks, AMP, resume, DDP."""

import os
import socket

import pytest
import torch

from gradseg.methods.fgi.config import FGIConfig
from gradseg.methods.fgi.darm import darm
from gradseg.methods.fgi.losses import supervised_loss
from gradseg.methods.fgi.masks import strict_loose
from gradseg.methods.fgi.method import build_fgi
from gradseg.methods.fgi.step import fgi_step, step_generator


def make_batch(levels=2, size=32, b=2, text_dim=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centre = torch.randint(size // 4, 3 * size // 4, (b, 2), generator=g)
    d = ((yy - centre[:, :1, None]) ** 2 + (xx - centre[:, 1:, None]) ** 2).float().sqrt()
    heat = (1 - d / size * 2).clamp(0, 1)[:, None]  # a soft blob per image
    batch = {"image": torch.rand(b, 3, size, size, generator=g), "heatmap": heat,
             "maps": torch.cat([heat ** (k + 1) for k in range(levels)], 1),
             "pseudo": (heat > 0.6).float()}
    if text_dim:
        batch["text"] = torch.randn(b, 4, text_dim, generator=g)
        batch["text_pad"] = torch.tensor([[False] * 4] + [[False, False, True, True]] * (b - 1))
    return batch


@pytest.mark.parametrize("method", ["fgi", "gradtrack+fgi"])
@pytest.mark.parametrize("text_dim", [None, 16])
def test_step_loss_and_gradients_of_both_networks(method, text_dim):
    torch.manual_seed(0)
    cfg = FGIConfig(method=method, levels=2, base_channels=2, text_dim=text_dim,
                    rampup_iters=10)
    pair = build_fgi(cfg)
    batch = make_batch(text_dim=text_dim)
    loss, parts = fgi_step(pair.teacher, pair.student, batch, 3, cfg)
    assert loss.ndim == 0 and torch.isfinite(loss)
    summed = sum(v for k, v in parts.items() if k not in ("ramp", "darm_area"))
    assert float(summed) == pytest.approx(float(loss.detach()), rel=1e-5)
    assert ("att" in parts) == (method == "gradtrack+fgi")
    assert float(parts["ramp"]) == pytest.approx(torch.exp(torch.tensor(-5 * 0.6**2)).item())
    assert float(parts["darm_area"]) > 0
    loss.backward()
    for name, net in (("teacher", pair.teacher), ("student", pair.student)):
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None for g in grads), f"{name}: a parameter without gradient"
        assert all(torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0


def test_step_supervision_targets_are_strict_and_darm_loose():
    torch.manual_seed(0)
    cfg = FGIConfig(levels=2, base_channels=2)
    pair = build_fgi(cfg)
    batch = make_batch()
    _, parts = fgi_step(pair.teacher, pair.student, batch, 0, cfg,
                        generator=torch.Generator().manual_seed(9))
    strict, loose = strict_loose(batch, cfg)
    d = darm(batch["image"], strict, loose, generator=torch.Generator().manual_seed(9))
    assert (d.loose != loose).any()
    with torch.no_grad():
        sup_t = supervised_loss(pair.teacher(batch["image"])["logits"], strict)
        sup_s = supervised_loss(pair.student(d.image)["logits"], d.loose)
    assert float(parts["sup_t"]) == pytest.approx(float(sup_t), rel=1e-5)
    assert float(parts["sup_s"]) == pytest.approx(float(sup_s), rel=1e-5)


def test_step_under_bf16_autocast_on_cpu():
    torch.manual_seed(0)
    cfg = FGIConfig(method="gradtrack+fgi", levels=2, base_channels=2, text_dim=8)
    pair = build_fgi(cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = fgi_step(pair.teacher, pair.student, make_batch(text_dim=8), 0, cfg)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in pair.parameters())


def _train(pair, opts, cfg, batches, steps):
    for step in steps:
        loss, _ = fgi_step(pair.teacher, pair.student, batches[step], step, cfg)
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()


def _setup(cfg, seed):
    torch.manual_seed(seed)
    pair = build_fgi(cfg)
    opts = [torch.optim.AdamW(pair.teacher.parameters(), lr=1e-2),
            torch.optim.AdamW(pair.student.parameters(), lr=1e-2)]
    return pair, opts


@pytest.mark.parametrize("method", ["fgi", "gradtrack+fgi"])
def test_resume_continues_identically(tmp_path, method):
    cfg = FGIConfig(method=method, levels=2, base_channels=2, text_dim=8, proj_norm="batch")
    batches = [make_batch(text_dim=8, seed=s) for s in range(4)]
    straight, opts = _setup(cfg, 0)
    _train(straight, opts, cfg, batches, range(4))

    first, opts = _setup(cfg, 0)
    _train(first, opts, cfg, batches, range(2))
    torch.save({"model": first.state_dict(), "opt": [o.state_dict() for o in opts]},
               tmp_path / "last.pt")
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    resumed, opts = _setup(cfg, 123)  # a different init, replaced by the checkpoint
    resumed.load_state_dict(ckpt["model"])
    for o, s in zip(opts, ckpt["opt"], strict=True):
        o.load_state_dict(s)
    torch.manual_seed(999)  # the global RNG is not what the step's randomness comes from
    _train(resumed, opts, cfg, batches, range(2, 4))
    want, got = straight.state_dict(), resumed.state_dict()
    assert list(want) == list(got)
    for k in want:
        assert torch.equal(want[k], got[k]), k


def test_step_generator_depends_on_seed_step_rank_only():
    a = torch.rand(3, generator=step_generator("cpu", 0, 5, 0))
    assert torch.equal(a, torch.rand(3, generator=step_generator("cpu", 0, 5, 0)))
    for other in [(1, 5, 0), (0, 6, 0), (0, 5, 1)]:
        assert not torch.equal(a, torch.rand(3, generator=step_generator("cpu", *other)))


def _ddp_worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cfg = FGIConfig(method="gradtrack+fgi", levels=2, base_channels=2, text_dim=8)
        torch.manual_seed(0)
        pair = build_fgi(cfg)
        teacher = torch.nn.parallel.DistributedDataParallel(pair.teacher)
        student = torch.nn.parallel.DistributedDataParallel(pair.student)
        opts = [torch.optim.SGD(pair.teacher.parameters(), lr=0.1),
                torch.optim.SGD(pair.student.parameters(), lr=0.1)]
        for step in range(2):
            batch = make_batch(text_dim=8, seed=10 * step + rank)  # each rank its own data
            loss, _ = fgi_step(teacher, student, batch, step, cfg, rank=rank)
            for o in opts:
                o.zero_grad()
            loss.backward()
            for o in opts:
                o.step()
        torch.save(pair.state_dict(), os.path.join(out, f"rank{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_cpu_processes_keep_both_networks_in_sync(tmp_path):
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    init = build_fgi(FGIConfig(method="gradtrack+fgi", levels=2, base_channels=2, text_dim=8))
    moved = False
    for k in a:
        if "running" in k or "num_batches" in k:
            continue  # BatchNorm statistics are per rank in DDP (no SyncBatchNorm)
        assert torch.allclose(a[k], b[k], atol=1e-6), k
        moved |= not torch.equal(a[k], init.state_dict()[k])
    assert moved
