"""Image names and sizes: every image is listed in ingest.json with where its pixel size came from
and what is wrong with it (a name that is not UTF-8, no file in --images); nothing is silently
given the screen's size, and ids are stable for names in any encoding.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from gazeprep.cli import main

LATIN1 = "name not valid UTF-8, decoded as Latin-1"


@pytest.fixture()
def ingest(capsys, tree_digest):
    """``gazeprep ingest`` (exit 0 expected); fixations, ingest.json, stderr lines."""

    def ingest_(inputs: list[Path], out: Path, *opts: str, images: Path | None = None):
        user = [*inputs, *([images] if images else [])]
        before = tree_digest(*user)
        extra = ["--images", str(images)] if images else []
        with pytest.raises(SystemExit) as ex:
            main(["ingest", *map(str, inputs), "--out", str(out), *extra, *opts])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert ex.value.code in (0, None), err
        assert tree_digest(*user) == before
        rep = json.loads((out / "ingest.json").read_text())
        return pl.read_parquet(out / "fixations.parquet"), rep, err

    return ingest_


def by_id(rep: dict) -> dict[str, dict]:
    return {e["id"]: e for e in rep["images"]}


def asc(path: Path, imgloads: list[bytes | None], screen=(1024, 768)) -> Path:
    """Monocular ASC, one trial per entry of ``imgloads`` (an IMGLOAD argument, or None)."""
    out = [b"** CONVERTED FROM test.edf",
           f"MSG\t10 GAZE_COORDS 0.00 0.00 {screen[0] - 1}.00 {screen[1] - 1}.00".encode()]
    for k, arg in enumerate(imgloads):
        t0 = 1000 * (k + 1)
        out.append(f"MSG\t{t0} TRIALID t{k}".encode())
        if arg is not None:
            out.append(f"MSG\t{t0 + 1} !V IMGLOAD ".encode() + arg)
        out += [f"START\t{t0 + 2} \tLEFT\tSAMPLES\tEVENTS".encode()]
        for t in range(t0 + 2, t0 + 200):
            out.append(f"{t}\t  512.0\t  384.0\t  800.0\t...".encode())
        out += [f"EFIX L   {t0 + 10}\t{t0 + 109}\t100\t  512.0\t  384.0\t    800".encode(),
                f"END\t{t0 + 200}\tSAMPLES\tEVENTS\tRES\t38.00\t38.00".encode(),
                f"MSG\t{t0 + 201} TRIAL_RESULT 0".encode()]
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def test_asc_names_in_latin1_and_utf8_give_the_same_id(capsys, tmp_path, ingest):
    lat = asc(tmp_path / "lat.asc", [b"FILL l\xe9sion.png"])
    utf = asc(tmp_path / "utf.asc", ["FILL lésion.png".encode()])
    f1, r1, _ = ingest([lat], tmp_path / "g1")
    f2, r2, _ = ingest([utf], tmp_path / "g2")
    assert f1["image"].to_list() == f2["image"].to_list() == ["l\u00e9sion"]
    assert by_id(r1)["lésion"]["problems"] == [LATIN1]
    assert by_id(r2)["lésion"]["problems"] == []
    for r in (r1, r2):  # FILL without --images: the size it was shown at, said so
        e = by_id(r)["lésion"]
        assert (e["width"], e["height"], e["size_from"]) == (1024, 768, "screen")
    f3, _, _ = ingest([lat], tmp_path / "g3")  # stable from run to run
    assert f3.equals(f1)


def test_cp1252_report_name(capsys, tmp_path, ingest):
    p = tmp_path / "r.csv"
    p.write_bytes(b"IMAGE,X,Y,DURATION,IMAGE_WIDTH,IMAGE_HEIGHT\r\n"
                  b"l\xe9sion.png,0.5,0.5,100,64,48\r\nplain.png,0.5,0.5,100,64,48\r\n")
    fix, rep, err = ingest([p], tmp_path / "g")
    assert fix["image"].to_list() == ["lésion", "plain"]
    img = by_id(rep)
    assert img["lésion"] == {"id": "lésion", "width": 64, "height": 48,
                             "size_from": "report columns", "problems": [LATIN1],
                             "files": ["r.csv"]}
    assert img["plain"]["problems"] == []
    assert rep["inputs"][0]["notes"]["latin1_lines"] == {"count": 1, "first": [2]}
    assert rep["totals"]["images_with_problems"] == 1
    assert any("1 image" in ln and "ingest.json" in ln for ln in err), err


@pytest.fixture
def images(tmp_path) -> Path:
    d = tmp_path / "images"
    d.mkdir()
    Image.new("RGB", (40, 30)).save(d / "a.png")
    return d


def test_report_image_not_in_images_keeps_fixations_without_size(capsys, tmp_path, images, ingest):
    p = tmp_path / "r.csv"
    p.write_text("IMAGE,X,Y,DURATION\na.png,0.5,0.5,100\nb.png,0.5,0.5,100\n")
    fix, rep, err = ingest([p], tmp_path / "g", images=images)
    assert fix.select("image", "width", "height").rows() == [("a", 40, 30), ("b", None, None)]
    img = by_id(rep)
    assert (img["a"]["size_from"], img["a"]["problems"]) == ("--images file", [])
    assert img["b"] == {"id": "b", "width": None, "height": None, "size_from": "unknown",
                        "problems": ["not in --images"], "files": ["r.csv"]}
    assert any("not in --images" in ln for ln in err), err
    fix2, rep2, _ = ingest([p], tmp_path / "g2")  # no --images: unknown, no problem
    assert fix2["width"].is_null().all()
    assert {e["size_from"] for e in rep2["images"]} == {"unknown"}
    assert rep2["totals"]["images_with_problems"] == 0


def test_asc_image_not_in_images_is_not_given_the_log_size(capsys, tmp_path, images, ingest):
    p = asc(tmp_path / "s.asc", [b"CENTER a.png 512 384 200 100", b"CENTER b.png 512 384 200 100",
                                 None])
    fix, rep, _ = ingest([p], tmp_path / "g", images=images)
    got = fix.select("image", "width", "height").rows()
    assert got == [("a", 40, 30), ("b", None, None), ("t2", None, None)]
    img = by_id(rep)
    assert img["a"]["size_from"] == "--images file"
    assert img["b"]["problems"] == img["t2"]["problems"] == ["not in --images"]
    # without --images: the IMGLOAD width/height, the screen for a trial without IMGLOAD
    fix, rep, _ = ingest([p], tmp_path / "g2")
    assert fix.select("width", "height").rows() == [(200, 100), (200, 100), (1024, 768)]
    assert [by_id(rep)[i]["size_from"] for i in ("a", "b", "t2")] == [
        "IMGLOAD w h", "IMGLOAD w h", "screen"]
    fix, rep, _ = ingest([p], tmp_path / "g3", "--image-rect", "0", "0", "800", "600")
    assert by_id(rep)["t2"]["size_from"] == "--image-rect" and fix["width"][2] == 800


def test_one_image_shown_at_two_sizes_is_a_problem(capsys, tmp_path, ingest):
    p = asc(tmp_path / "s.asc", [b"CENTER a.png 512 384 200 100", b"CENTER a.png 512 384 300 150"])
    _, rep, _ = ingest([p], tmp_path / "g")
    (problem,) = by_id(rep)["a"]["problems"]
    assert problem == ("size differs within the file: 200 x 100 (IMGLOAD w h) and 300 x 150 "
                       "(IMGLOAD w h)")
    q = asc(tmp_path / "q.asc", [b"CENTER a.png 512 384 200 100"])
    r = asc(tmp_path / "r.asc", [b"CENTER a.png 512 384 300 150"])
    _, rep, _ = ingest([q, r], tmp_path / "g2")
    e = by_id(rep)["a"]
    assert e["files"] == ["q.asc", "r.asc"] and (e["width"], e["height"]) == (200, 100)
    assert e["problems"] == ["size differs between inputs: q.asc 200 x 100 (IMGLOAD w h), r.asc "
                             "300 x 150 (IMGLOAD w h)"]


def test_sample_file_sizes(capsys, tmp_path, images, ingest):
    p = tmp_path / "g.csv"
    p.write_text("time,x,y,image\n" + "".join(f"{4 * k},500,400,{'a.png' if k < 100 else 'c'}\n"
                                              for k in range(200)))
    fix, rep, _ = ingest([p], tmp_path / "g", "--units", "px", images=images)
    assert fix.select("image", "width").rows() == [("a", 40), ("c", None)]
    assert by_id(rep)["c"]["problems"] == ["not in --images"]
    fix, rep, _ = ingest([p], tmp_path / "g2", "--units", "px", "--screen-px", "1000",
                         "800")
    assert fix["width"].to_list() == [1000, 1000]
    assert {e["size_from"] for e in rep["images"]} == {"screen"}


def test_sample_file_latin1_image_column(capsys, tmp_path, ingest):
    p = tmp_path / "g.csv"
    p.write_bytes(b"time,x,y,image\n" + b"".join(
        b"%d,500,400,%s\n" % (4 * k, b"l\xe9sion.png" if k < 100 else b"plain.png")
        for k in range(200)))
    fix, rep, _ = ingest([p], tmp_path / "g", "--units", "px")
    assert fix["image"].to_list() == ["lésion", "plain"]
    assert by_id(rep)["lésion"]["problems"] == [LATIN1] and by_id(rep)["plain"]["problems"] == []
    assert rep["inputs"][0]["notes"]["latin1_lines"]["count"] == 100
