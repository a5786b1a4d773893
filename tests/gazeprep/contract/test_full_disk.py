"""A disk that fills while ingest or render writes: one line naming the output and saying what
to do, exit 1, and the outputs of the previous run byte-identical.

The disk really fills: a small tmpfs mounted in a private mount namespace (``unshare --mount
--map-root-user``), which disappears with the namespace, so nothing stays mounted whatever
happens. Where user namespaces are not allowed the tests skip, saying so. (polars' Parquet
writer reports a full disk as "Invalid thrift: transport error", with no file and no errno.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from safety_helpers import error_line, write_report

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")

#: Runs in the namespace: mounts a tmpfs of argv[2] at argv[1], fills it to argv[3] bytes
#: free on request (``fill()``), then runs the test's body (argv[4]).
_PRELUDE = textwrap.dedent("""
    import hashlib, json, os, subprocess, sys
    from pathlib import Path
    disk, size, keep = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "none", str(disk)], check=True)

    def fill():
        with open(disk / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\\0" * 4096)
            except OSError:
                pass
        os.truncate(disk / "filler", max(0, os.path.getsize(disk / "filler") - keep))

    def digests(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(Path(folder).iterdir()) if p.is_file()}

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "gazeprep.cli", *map(str, args)],
                           capture_output=True, text=True)
        return {"code": r.returncode, "stderr": r.stderr}
""")


def _in_namespace(tmp_path: Path, size: str, keep: int, body: str) -> dict:
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(_PRELUDE + textwrap.dedent(body))
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "mount", "-t", "tmpfs",
                            "none", str(disk)], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small disk here ({probe.stderr.strip()})")
    res = subprocess.run(["unshare", "--mount", "--map-root-user", sys.executable, str(script),
                          str(disk), size, str(keep)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.splitlines()[-1])


def test_ingest_on_a_full_disk_names_the_output_and_keeps_the_last_one(tmp_path, untouched):
    raw, big = tmp_path / "user" / "raw", tmp_path / "user" / "big.csv"
    write_report(raw / "small.csv", ["a", "b"], seed=0)
    write_report(big, [f"im{i}" for i in range(400)], seed=1, n=20)
    check = untouched(tmp_path / "user")
    got = _in_namespace(tmp_path, "2m", 8192, f"""
        out = disk / "gaze"
        first = cli("ingest", {str(raw)!r}, "--out", out)
        before = digests(out)
        os.replace({str(big)!r}, {str(raw / "big.csv")!r})
        fill()
        second = cli("ingest", {str(raw)!r}, "--out", out, "--overwrite")
        os.replace({str(raw / "big.csv")!r}, {str(big)!r})
        print(json.dumps({{"first": first, "second": second, "before": before,
                           "after": digests(out), "left": sorted(os.listdir(disk))}}))
    """)
    assert got["first"]["code"] == 0, got["first"]["stderr"]
    assert got["second"]["code"] == 1
    line = error_line(got["second"]["stderr"])
    assert "no space left on the device" in line and "free some space" in line, line
    assert str(tmp_path / "disk" / "gaze") in line, line
    assert got["after"] == got["before"]
    assert got["left"] == ["filler", "gaze"]  # no staging folder left behind
    check()


def test_render_on_a_disk_that_fills_names_the_cache(tmp_path, render_dataset, untouched):
    check = untouched(*(render_dataset / f for f in ("images", "masks", "gaze")))
    got = _in_namespace(tmp_path, "1m", 0, f"""
        from gazeprep.contract.errors import InputError
        from gazeprep.render.params import RenderParams
        from gazeprep.render.plan import plan_render
        from gazeprep.render.writer import update_cache

        d = Path({str(render_dataset)!r})
        plan = plan_render(d / "gaze", d / "images", d / "masks")
        try:  # another program fills the disk while the render writes
            update_cache(plan, RenderParams(size=64), disk / "maps.zarr", shard=1,
                         after_batch=lambda done: fill(), jobs=1)
            print(json.dumps({{"error": None}}))
        except InputError as exc:
            print(json.dumps({{"error": str(exc), "left": sorted(os.listdir(disk))}}))
    """)
    assert got["error"] is not None, "the render did not fail on a full disk"
    assert "no space left on the device" in got["error"], got["error"]
    assert str(tmp_path / "disk") in got["error"]
    assert "maps.zarr" not in got["left"]  # a first render appears only when complete
    check()
