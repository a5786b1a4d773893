"""--jobs: the usable cores, the accepted range, and the in-order, bounded map over workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gazeprep.jobs import (
    JOBS_PER_CORE,
    RemoteTraceback,
    check_jobs,
    cores,
    keep_traceback,
    max_jobs,
    numba_threads,
    ordered,
    process_pool,
    restore_traceback,
)


def test_cores_is_the_affinity_mask():
    assert cores() == len(os.sched_getaffinity(0))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_cores_follows_a_restricted_affinity():
    # A process allowed on one CPU (taskset, a container's cpuset) uses one core by default,
    # whatever the machine has.
    one = sorted(os.sched_getaffinity(0))[:1]
    code = "from gazeprep.jobs import cores, check_jobs; print(cores(), check_jobs(None))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, one), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


def test_check_jobs_range():
    assert check_jobs(None) == cores()
    assert check_jobs(1) == 1
    assert check_jobs(max_jobs()) == max_jobs() == JOBS_PER_CORE * cores()
    for bad in (0, -1, max_jobs() + 1, True, 2.0, "2"):
        with pytest.raises(ValueError, match=f"from 1 to {max_jobs()}"):
            check_jobs(bad)


def test_numba_threads_is_set_and_restored():
    import numba

    before = numba.get_num_threads()
    with numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with numba_threads(10_000):  # clipped to numba's own limit
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_numba_threads_before_numba_is_imported():
    # Work that runs no kernel does not import numba for --jobs; when the block imports it,
    # numba takes --jobs as its limit, and the variable stays as numba read it (numba re-reads
    # it at every compilation and refuses a new value once its threads run); a block that
    # does not import numba leaves no variable behind.
    code = ("import os, sys\nfrom gazeprep.jobs import numba_threads\n"
            "with numba_threads(3):\n    pass\n"
            "print('NUMBA_NUM_THREADS' in os.environ)\n"
            "with numba_threads(1):\n    assert 'numba' not in sys.modules\n"
            "    import numba\n    n = numba.config.NUMBA_NUM_THREADS\n"
            "print(n, os.environ.get('NUMBA_NUM_THREADS'))\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "1", "1"]


def _slow_square(x: int) -> int:
    time.sleep(0.002 * (10 - x))  # later items finish first
    return x * x


def test_ordered_keeps_input_order_and_bounds_the_work_in_flight():
    submitted, yielded, most = [], [], [0]
    lock = threading.Lock()

    def item(i):
        with lock:
            submitted.append(i)
            most[0] = max(most[0], len(submitted) - len(yielded))
        return (i,)

    with ThreadPoolExecutor(4) as ex:
        for r in ordered(ex, _slow_square, (item(i) for i in range(10)), ahead=3):
            yielded.append(r)
    assert yielded == [i * i for i in range(10)]
    assert most[0] <= 3


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise KeyError(x)
    return x


def test_ordered_raises_at_the_failing_item_and_cancels_the_rest():
    got = []
    with ThreadPoolExecutor(1) as ex, pytest.raises(KeyError):
        for r in ordered(ex, _fail_on_three, [(i,) for i in range(100)], ahead=4):
            got.append(r)
    assert got == [0, 1, 2]


def test_worker_errors_keep_their_traceback():
    try:
        {}["missing"]
    except KeyError as exc:
        err = keep_traceback(exc)
    import pickle

    back = restore_traceback(pickle.loads(pickle.dumps(err)))  # as it comes from a worker
    assert isinstance(back.__cause__, RemoteTraceback)
    assert "test_worker_errors_keep_their_traceback" in str(back.__cause__)
    assert restore_traceback(5) == 5


def _pid_and_threads(_: int) -> tuple[int, str]:
    import numba

    return os.getpid(), os.environ.get("NUMBA_NUM_THREADS", ""), numba.get_num_threads()


def test_process_pool_runs_in_other_processes_with_one_numba_thread():
    with process_pool(2, ["gazeprep.jobs"]) as pool:
        got = list(ordered(pool, _pid_and_threads, [(i,) for i in range(4)], ahead=4))
    assert all(pid != os.getpid() for pid, _, _ in got)
    # one numba thread each: through NUMBA_NUM_THREADS when the worker imports numba itself,
    # through numba.set_num_threads when the fork server had loaded it (the variable is then
    # left alone: numba refuses a change once its threads run)
    assert all(n == 1 and env in ("1", "") for _, env, n in got)


def _die(x: int) -> int:
    if x == 2:
        os._exit(3)  # as a worker killed for lack of memory
    return x


def test_a_dead_worker_is_one_clear_error():
    from gazeprep.errors import GazeprepError

    with process_pool(2, ["gazeprep.jobs"]) as pool, \
            pytest.raises(GazeprepError, match="worker process stopped abruptly"):
        list(ordered(pool, _die, [(i,) for i in range(6)], ahead=6))



def _second_read_faults(path: str) -> int:
    """Page faults of reading ``path`` whole after it was read once and the bytes freed (as
    ingest reads file after file)."""
    import resource
    from pathlib import Path

    len(Path(path).read_bytes())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    len(Path(path).read_bytes())
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.fixture(scope="module")
def forty_mb(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("big") / "40mb.bin"
    path.write_bytes(b"\x01" * 40_000_000)
    return str(path)


_FAULTS = """
import sys
from gazeprep.jobs import keep_freed_memory
from test_jobs import _second_read_faults
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
print(kept, _second_read_faults(sys.argv[2]))
"""

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
    reason="glibc's malloc only")


def _faults_in_a_new_process(mode: str, path: str) -> tuple[str, int]:
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__)}
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode, path], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    return out[0], int(out[1])


@glibc_only
def test_keep_freed_memory_reuses_freed_pages(forty_mb):
    # 40 MB is ~9,800 pages of 4 KiB: by default each is a page fault again when the file is
    # read a second time; with freed memory kept, almost none is
    _, default = _faults_in_a_new_process("default", forty_mb)
    kept, after = _faults_in_a_new_process("keep", forty_mb)
    assert kept == "True"
    assert default > 9_000
    assert after < 1_000


@glibc_only
def test_workers_keep_freed_memory(forty_mb):
    with process_pool(1, ["gazeprep.jobs"]) as pool:
        (faults,) = list(ordered(pool, _second_read_faults, [(forty_mb,)], ahead=1))
    assert faults < 1_000


_KILLED_ALONE = """
import multiprocessing.forkserver as fs, sys, time
from gazeprep.jobs import process_pool
with process_pool(2, ["gazeprep.jobs"]) as pool:
    busy = [pool.submit(time.sleep, 60) for _ in range(2)]
    while len(pool._processes) < 2:
        time.sleep(0.05)
    print(fs._forkserver._forkserver_pid, *pool._processes, flush=True)
    time.sleep(60)
"""


def _running(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended (its parent may never reap it)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_helpers_end_with_a_command_killed_alone(sig):
    # `kill PID` of the command alone (not its process group, as Ctrl-C would): its fork
    # server and the workers, busy for another minute, end with it
    cmd = subprocess.Popen([sys.executable, "-c", _KILLED_ALONE], stdout=subprocess.PIPE,
                           text=True)
    helpers = [int(p) for p in cmd.stdout.readline().split()]
    assert len(helpers) == 3 and all(_running(p) for p in helpers)
    cmd.send_signal(sig)
    cmd.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_running(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(p) for p in helpers)


_EXCEPTHOOK = """
import sys
import gazeprep.contract._forkserver  # as in the fork server: its excepthook, inherited by workers
ns = {}
exec(compile("def __setstate__(kind):\\n    raise kind(2, 'No such file or directory')\\n",
             "/usr/lib/python3/multiprocessing/synchronize.py", "exec"), ns)
for kind in (FileNotFoundError, PermissionError):
    try:
        ns["__setstate__"](kind)
    except OSError:
        sys.excepthook(*sys.exc_info())
    print("--", file=sys.stderr)
"""


def test_a_worker_forked_after_its_pool_was_released_ends_quietly():
    # a Ctrl-C as the workers start: the pool's semaphores are gone when a late worker
    # rebuilds them; that worker says nothing (the command says why it ends), any other
    # error before a worker runs is printed as Python prints it
    got = subprocess.run([sys.executable, "-c", _EXCEPTHOOK], capture_output=True, text=True,
                         timeout=60)
    quiet, other = got.stderr.split("--\n")[:2]
    assert quiet == ""
    assert "Traceback" in other and "PermissionError" in other
