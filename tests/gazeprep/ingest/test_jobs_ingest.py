"""`gazeprep ingest --jobs N`: files read side by side by worker processes, the same output as
one by one (fixations, tracks and their order, ingest.json), the same first error."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

import gazeprep.ingest as ingest_mod
import gazeprep.read.parallel as parallel
from gazeprep.errors import GazeprepError
from gazeprep.ingest import run_ingest
from gazeprep.read.options import IngestOptions


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, shared_data):
    """A folder of several recordings: the real EyeLink ASCs and sample CSV, the GazeMedSeg
    Kvasir report, and simulated EyeLink recordings of two observers."""
    from gazeprep.simulate.config import SimConfig
    from gazeprep.simulate.dataset import simulate_dataset

    root = tmp_path_factory.mktemp("rec")
    raw = root / "raw"
    raw.mkdir()
    for name in ("eyelink_binocular_example.asc", "eyelink_monocular_2khz_example.asc",
                 "gaze-toy-example.csv"):
        shutil.copy(shared_data("eyelink", name), raw / name)
    shutil.copy(shared_data("gazemedseg", "kvasir_fixation.csv"), raw / "kvasir_fixation.csv")
    sim = root / "sim"
    simulate_dataset(sim, SimConfig(n_images=4, sessions=2, size=64))
    for f in sorted((sim / "raw").glob("*.asc")):
        shutil.copy(f, raw / f"sim_{f.name}")
    return raw


def _outputs(out):
    rep = json.loads((out / "ingest.json").read_text())
    rep["totals"].pop("seconds")
    rep.pop("outputs")  # sha256 of the Parquet files: compared below as tables
    return (pl.read_parquet(out / "fixations.parquet"), pl.read_parquet(out / "tracks.parquet"),
            rep)


def _pools(monkeypatch) -> list[int]:
    """Let every input go to the workers, and count the pools started."""
    started = []
    real = ingest_mod.process_pool

    def counting(jobs, *args, **kw):
        started.append(jobs)
        return real(jobs, *args, **kw)

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_mod, "process_pool", counting)
    return started


@pytest.mark.parametrize("detector", ["auto", "ivt"])
def test_parallel_ingest_is_the_serial_one(recordings, tmp_path, monkeypatch, untouched,
                                           detector):
    started = _pools(monkeypatch)
    check = untouched(recordings)
    opts = IngestOptions(detector=detector, lenient=True)
    outs = {}
    for jobs in (1, 2, 3):
        outs[jobs] = _outputs(run_ingest([recordings], tmp_path / f"j{jobs}", opts,
                                         jobs=jobs).out)
    assert started == [2, 3]  # jobs=1 reads in this process
    fix1, tr1, rep1 = outs[1]
    assert rep1["totals"]["files"] == 6 and fix1.height > 23_525
    assert fix1["session"].n_unique() >= 5  # one or more per recording
    for jobs in (2, 3):
        fix, tr, rep = outs[jobs]
        assert fix.equals(fix1) and tr.equals(tr1)  # same rows in the same order
        assert rep == rep1
    check()


def test_the_first_bad_file_fails_the_same_way(recordings, tmp_path, monkeypatch):
    _pools(monkeypatch)
    raw = tmp_path / "raw"
    shutil.copytree(recordings, raw)
    (raw / "m_bad.csv").write_text("IMAGE,X,Y,DURATION\na.jpg,0.1,0.2,100\na.jpg,0.1,zz,100\n")
    (raw / "n_bad.csv").write_text("IMAGE,X,Y,DURATION\nb.jpg,0.1,0.2,100\nb.jpg,zz,0.2,100\n")
    errors = {}
    for jobs in (1, 2):
        with pytest.raises(GazeprepError) as ex:
            run_ingest([raw], tmp_path / f"out{jobs}", IngestOptions(), jobs=jobs)
        errors[jobs] = str(ex.value)
        assert not (tmp_path / f"out{jobs}").exists()
    assert errors[1] == errors[2] and "m_bad.csv:3:" in errors[1]
    lenient = [_outputs(run_ingest([raw], tmp_path / f"len{jobs}", IngestOptions(lenient=True),
                                   jobs=jobs).out) for jobs in (1, 2)]
    assert lenient[0][0].equals(lenient[1][0]) and lenient[0][2] == lenient[1][2]
    assert len(lenient[0][2]["drops"]) >= 2


def test_small_inputs_are_read_in_this_process(recordings, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(ingest_mod, "process_pool", lambda *a, **k: started.append(a))
    run_ingest([recordings], tmp_path / "g", IngestOptions(lenient=True), jobs=2)
    assert started == []  # a few MB: starting workers would cost more than it saves


def test_cli_jobs_out_of_range_is_a_usage_error(recordings, run_cli, tmp_path):
    res = run_cli("gazeprep", "ingest", recordings, "--out", tmp_path / "g", "--jobs", "0")
    assert res.returncode == 2 and "--jobs" in res.stderr
    assert not (tmp_path / "g").exists()



@pytest.mark.parametrize(("extra", "starts"), [
    (["--jobs", "2"], True), (["-j", "2", "--lenient"], True), (["--jobs", "1"], False),
    (["--jobs", "2", "--help"], False), (["--jobs", "zz"], False),
    (["--jobs", "2", "--no-such-option"], False), (["--jobs"], False)])
def test_workers_start_from_the_raw_command_line(recordings, monkeypatch, tmp_path, extra,
                                                 starts):
    # gazeprep's main starts the fork server before typer converts the options; a line that
    # will fail, ask for help or use one job starts nothing
    import typer

    from gazeprep.cli import app
    from gazeprep.commands.ingest import start_workers_early

    started = []
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "prestart", started.append)
    monkeypatch.setattr(parallel, "_WARMED", set())
    command = typer.main.get_command(app).commands["ingest"]
    line = [str(recordings), "--out", str(tmp_path / "g"), *extra]
    start_workers_early(command, line)
    assert started == ([parallel.PRELOAD] if starts else [])
    start_workers_early(command, line)  # the command's own request: handled already
    assert len(started) == (1 if starts else 0)


_PRELOAD = """
import gc, importlib.util, sys
import gazeprep.contract._forkserver  # a fork server imports it first (contract.workers)
import gazeprep.read._preload
print(sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "cffi")),
      gc.get_freeze_count() > 0)
import scipy.linalg  # importable again afterwards (scipy: scikit-image needs it)
print(scipy.linalg.norm([3.0, 4.0]))
try:
    import cffi  # not a dependency: where installed, importable again too
    print(cffi.FFI().sizeof("int"))
except ModuleNotFoundError as exc:
    print(exc.name == "cffi" and importlib.util.find_spec("cffi") is None)
"""


def test_worker_preload_keeps_scipy_out_and_freezes_what_it_loaded():
    # the fork server's preload: numba's import and registries without scipy and cffi (numba
    # would import scipy.linalg only to look for a BLAS, cffi only to type cffi functions),
    # then the loaded objects frozen for the GC
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PRELOAD], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[:2] == ["[] True", "5.0"] and out[2] in ("4", "True")


def _tiled_recordings(shared_data, raw, samples: int, copies: int) -> None:
    """``copies`` recordings of ``samples`` samples: the real binocular ASC tiled (as
    ``pipelines/bench_ingest.py`` builds its inputs)."""
    import importlib.util
    import sys
    from pathlib import Path

    pipelines = Path(__file__).resolve().parents[3] / "pipelines"
    sys.path.insert(0, str(pipelines))
    spec = importlib.util.spec_from_file_location("bench_ingest", pipelines / "bench_ingest.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    raw.mkdir()
    bench.build_tiled_asc(shared_data("eyelink", "eyelink_binocular_example.asc"),
                          raw / "r0.asc", samples)
    for k in range(1, copies):
        shutil.copy(raw / "r0.asc", raw / f"r{k}.asc")


@pytest.mark.slow
def test_cli_on_large_recordings_reads_them_on_workers(shared_data, tmp_path, monkeypatch,
                                                       untouched):
    # two tiled real recordings, 36 MB in all, past PARALLEL_MIN_BYTES: `gazeprep ingest`
    # starts the workers' fork server from the raw command line and reads the files there;
    # the output is the one-by-one output
    from gazeprep.cli import main

    raw = tmp_path / "raw"
    _tiled_recordings(shared_data, raw, 300_000, 2)
    assert sum(f.stat().st_size for f in raw.iterdir()) >= parallel.PARALLEL_MIN_BYTES
    check = untouched(raw)
    early, pools = [], []
    monkeypatch.setattr(parallel, "_WARMED", set())
    real_prestart, real_pool = parallel.prestart, ingest_mod.process_pool
    monkeypatch.setattr(parallel, "prestart", lambda m: (early.append(m), real_prestart(m)))
    monkeypatch.setattr(ingest_mod, "process_pool",
                        lambda jobs, *a, **k: (pools.append(jobs), real_pool(jobs, *a, **k))[1])
    outs = []
    for jobs in ("2", "1"):
        with pytest.raises(SystemExit) as done:
            main(["ingest", str(raw), "--out", str(tmp_path / f"j{jobs}"), "--jobs", jobs])
        assert done.value.code in (0, None)
        outs.append(_outputs(tmp_path / f"j{jobs}"))
    assert early == [parallel.PRELOAD] and pools == [2]  # --jobs 1 read them here
    (fix2, tr2, rep2), (fix1, tr1, rep1) = outs
    assert fix1["session"].n_unique() == 2 and fix1.height > 1_000
    assert fix2.equals(fix1) and tr2.equals(tr1) and rep2 == rep1
    check()


def test_workers_start_with_spawn_under_a_long_temporary_folder(recordings, tmp_path,
                                                                monkeypatch):
    # a cluster's long TMPDIR leaves no room for the fork server's socket: the workers are
    # spawned instead, with the same output
    import tempfile

    from gazeprep.jobs import start_method

    started = _pools(monkeypatch)
    opts = IngestOptions(lenient=True)
    serial = _outputs(run_ingest([recordings], tmp_path / "j1", opts, jobs=1).out)
    long_tmp = tmp_path / ("t" * max(1, 90 - len(str(tmp_path))))
    long_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_tmp))
    assert start_method() == "spawn"
    spawned = _outputs(run_ingest([recordings], tmp_path / "j2", opts, jobs=2).out)
    assert started == [2]
    assert spawned[0].equals(serial[0]) and spawned[1].equals(serial[1])
    assert spawned[2] == serial[2]
