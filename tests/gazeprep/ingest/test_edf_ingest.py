"""`gazeprep ingest` on EyeLink EDF files: the same fixations, tracks and gaze quality as on
the edf2asc text of the same files, the `edf` reader in the registry, the child's time limit.

Real data: the EDF recordings that eyelinkio ships (skipped with the reason without it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import run_ingest
from gazeprep.read import find_inputs, readers, sniff_format
from gazeprep.read.options import IngestOptions

eyelinkio = pytest.importorskip("eyelinkio", reason="needs eyelinkio (the eyelink extra) for "
                                                    "its EDF recordings and library")

from gazeprep.read import edf as edf_module  # noqa: E402
from gazeprep.read.edf_asc import edf_to_asc  # noqa: E402
from gazeprep.read.edf_reader import LINES_NOTE  # noqa: E402

EDF_DIR = Path(eyelinkio.__file__).parent / "tests" / "data"
NAMES = ["test_raw.edf", "test_2_raw.edf", "test_raw_binocular.edf"]


def edf(name: str) -> Path:
    path = EDF_DIR / name
    if not path.exists():
        pytest.skip(f"eyelinkio's test recording {name} is not installed")
    return path


@pytest.mark.parametrize("name", NAMES)
def test_edf_folder_equals_its_edf2asc_text(name, tmp_path):
    """Samples, events and messages go through the ASC code: equal outputs but `source`."""
    raw_edf, raw_asc = tmp_path / "edf", tmp_path / "asc"
    raw_edf.mkdir()
    raw_asc.mkdir()
    shutil.copy(edf(name), raw_edf / name)
    (raw_asc / name).with_suffix(".asc").write_bytes(edf_to_asc(edf(name)))
    a = run_ingest([raw_edf], tmp_path / "out_edf", IngestOptions(eye="both"))
    b = run_ingest([raw_asc], tmp_path / "out_asc", IngestOptions(eye="both"))
    for part in ("fixations.parquet", "tracks.parquet", "quality.parquet"):
        fa = pl.read_parquet(tmp_path / "out_edf" / part)
        fb = pl.read_parquet(tmp_path / "out_asc" / part)
        if "source" in fa.columns:
            assert set(fa["source"]) == {name} and set(fb["source"]) == {Path(name).stem + ".asc"}
            fa, fb = fa.drop("source"), fb.drop("source")
        assert fa.height > 0, part
        assert fa.equals(fb), part
    (ia,), (ib,) = a.report["inputs"], b.report["inputs"]
    assert (ia["format"], ib["format"]) == ("edf", "asc")
    assert ia["notes"]["lines"] == LINES_NOTE and "lines" not in ib.get("notes", {})
    assert ia["dropped"] == ib["dropped"] and ia["anomalies"] == [
        {**x, "file": str(raw_edf / name)} for x in ib["anomalies"]]
    assert a.report["drops"] == [{**d, "file": str(raw_edf / name)} for d in b.report["drops"]]
    assert a.report["quality"] == b.report["quality"]


def test_validation_of_the_edf_reaches_its_trials(tmp_path):
    """test_raw.edf: one validation (HV5, GOOD 0.29 / 0.65 deg) before its 20 trials."""
    out = tmp_path / "gaze"
    run_ingest([edf("test_raw.edf")], out, IngestOptions())
    q = pl.read_parquet(out / "quality.parquet")
    assert q.height == 20 and set(q["eye"]) == {"L"}
    assert set(q["validation_result"]) == {"GOOD"}
    assert set(q["validation_avg_deg"]) == {0.29} and set(q["validation_max_deg"]) == {0.65}
    text = edf_to_asc(edf("test_raw.edf")).decode("latin-1").splitlines()
    assert q["blinks"].sum() == sum(1 for ln in text if ln.startswith("EBLINK L"))
    assert (q["rate_hz"] == 1000.0).all() and not q["flagged"].any()


def test_edf_reader_is_registered_and_sniffed(tmp_path):
    assert list(readers())[0] == "edf"
    plain = tmp_path / "rec.edf"
    shutil.copy(edf("test_raw.edf"), plain)
    assert sniff_format(plain) == "edf"
    no_suffix = tmp_path / "rec.bin"  # the magic, SR_RESEARCH, is enough
    shutil.copy(edf("test_raw.edf"), no_suffix)
    assert sniff_format(no_suffix) == "edf"
    (tmp_path / "sub").mkdir()
    shutil.copy(edf("test_raw.edf"), tmp_path / "sub" / "x.EDF")
    assert [p.name for p in find_inputs([tmp_path])] == ["rec.edf", "x.EDF"]


def test_format_edf_option_via_the_cli(tmp_path, run_cli):
    out = tmp_path / "gaze"
    res = run_cli("gazeprep", "ingest", edf("test_raw.edf"), "--format", "edf", "--out", out)
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "ingest.json").read_text())
    assert doc["inputs"][0]["format"] == "edf" and doc["params"]["format"] == "edf"


def test_text_named_edf_is_a_one_line_error(tmp_path, run_cli, error_line, untouched):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "notes.edf").write_text("not an EDF\n")
    check = untouched(raw)
    res = run_cli("gazeprep", "ingest", raw, "--out", tmp_path / "gaze")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "notes.edf" in line and "EDF" in line
    check()


def test_edf_library_past_its_time_limit_is_stopped(tmp_path):
    with pytest.raises(GazeprepError, match="did not finish reading this file within") as err:
        edf_module.read_edf(edf("test_2_raw.edf"), timeout=0.01)
    assert "test_2_raw.edf" in str(err.value) and "\n" not in str(err.value)


def test_ingest_gives_the_time_limit_error_in_one_line(tmp_path, monkeypatch, untouched):
    """A file that makes the library loop must not hang ingest (here: a limit too short)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(edf("test_raw.edf"), raw / "a.edf")
    check = untouched(raw)
    monkeypatch.setattr(edf_module, "TIMEOUT_S", 0.01)
    monkeypatch.setattr(edf_module, "TIMEOUT_S_PER_MB", 0.0)
    with pytest.raises(GazeprepError, match="within 0.01 s") as err:
        run_ingest([raw], tmp_path / "gaze", IngestOptions())
    assert err.value.file is not None and "a.edf" in str(err.value.file)
    lenient = run_ingest([raw], tmp_path / "gaze", IngestOptions(lenient=True))
    assert lenient.report["totals"]["files_failed"] == 1
    check()


def test_default_time_limit_grows_with_the_file(tmp_path, monkeypatch):
    seen = {}

    def fake_run(*args, timeout=None, **kw):
        seen["timeout"] = timeout
        raise edf_module.subprocess.TimeoutExpired(args[0], timeout)

    monkeypatch.setattr(edf_module.subprocess, "run", fake_run)
    path = edf("test_2_raw.edf")
    with pytest.raises(GazeprepError):
        edf_module.read_edf(path)
    want = edf_module.TIMEOUT_S + edf_module.TIMEOUT_S_PER_MB * path.stat().st_size / 1e6
    assert seen["timeout"] == pytest.approx(want)


def test_edf_beside_its_asc_in_a_folder_gives_the_asc(tmp_path):
    """EyeLink folders often hold x.edf and its (perhaps edited) edf2asc text x.asc: the folder
    walk reads the .asc, as before EDFs were read, and says so; named, the EDF is read."""
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(edf("test_raw.edf"), raw / "s1.edf")
    (raw / "s1.asc").write_bytes(edf_to_asc(edf("test_raw.edf")))
    shutil.copy(edf("test_2_raw.edf"), raw / "s2.edf")
    notes: list[str] = []
    assert [p.name for p in find_inputs([raw], notes)] == ["s1.asc", "s2.edf"]
    assert len(notes) == 1 and "s1.edf: skipped" in notes[0]
    got = run_ingest([raw], tmp_path / "gaze", IngestOptions())
    assert [i["format"] for i in got.report["inputs"]] == ["asc", "edf"]
    assert got.report["skipped_inputs"] == notes and notes[0] in got.notes
    named = run_ingest([raw / "s1.edf"], tmp_path / "gaze2", IngestOptions())
    assert named.report["inputs"][0]["format"] == "edf"
    with pytest.raises(GazeprepError, match="comes from several files"):
        run_ingest([raw / "s1.edf", raw / "s1.asc"], tmp_path / "gaze3", IngestOptions())
