"""Gazepoint GP3 reader: running fixations -> one per FPOGID, TIME or TIMETICK, EGD-CXR's
image columns and original-image pixels, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file
from gazeprep.read import sniff_format
from gazeprep.read.options import IngestOptions

HEADER = ("MEDIA_ID,MEDIA_NAME,CNT,TIME(2019/11/06 13:52:04.469),TIMETICK(f=10000000),FPOGX,"
          "FPOGY,FPOGS,FPOGD,FPOGID,FPOGV,BPOGX,BPOGY,BPOGV")


def rows(spec, t_step=1 / 150):
    """``spec``: (media, FPOGID, valid, x, y) per fixation and its number of samples."""
    out, t, cnt = [], 0.0, 0
    for media, fid, n, valid, x, y in spec:
        start = t
        for _ in range(n):
            out.append(f"{media},{media}.png,{cnt},{t:.5f},{int(t * 1e7)},{x},{y},{start:.5f},"
                       f"{(t - start):.5f},{fid},{valid},{x},{y},1")
            t, cnt = t + t_step, cnt + 1
    return out


SPEC = [("a", 1, 30, 1, 0.5, 0.5), ("a", 2, 5, 0, 0.1, 0.1), ("a", 3, 4, 1, 0.3, 0.3),
        ("b", 4, 45, 1, 0.25, 0.75), ("b", 5, 30, 1, 1.2, 0.5)]


def write(path, lines, header=HEADER):
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return path


def test_one_fixation_per_fpogid(tmp_path):
    p = write(tmp_path / "gp.csv", rows(SPEC))
    assert sniff_format(p) == "gazepoint"
    res = ingest_file(p, IngestOptions())
    f = res.fixations
    assert res.rows_read == 5 and res.n_samples == 114
    # FPOGID 2 was never valid, 3 lasted 3 samples (20 ms), 5 lies right of the screen.
    assert dict(res.dropped) == {"invalid": 1, "short": 1, "outside_image": 1}
    assert f["image"].to_list() == ["a", "b"] and f["trial"].to_list() == ["1", "2"]
    np.testing.assert_allclose(f["x"], [0.5, 0.25])
    np.testing.assert_allclose(f["y"], [0.5, 0.75])
    # Duration = the largest FPOGD (29 steps of 1/150 s), onset from the viewing's first row.
    np.testing.assert_allclose(f["duration_ms"], [29 / 150 * 1000, 44 / 150 * 1000], atol=0.01)
    np.testing.assert_allclose(f["onset_ms"], [0, 0], atol=0.01)
    assert f["line"].to_list() == [2, 41]


def test_timetick_only_and_image_rect(tmp_path):
    lines = rows(SPEC[:1])
    header = HEADER.replace("TIME(2019/11/06 13:52:04.469),", "XTIME,")
    p = write(tmp_path / "tick.csv", lines, header)
    f = ingest_file(p, IngestOptions(image_rect=(480, 270, 960, 540))).fixations
    np.testing.assert_allclose([f["x"][0], f["y"][0]], [0.5, 0.5])
    assert f["onset_ms"][0] == pytest.approx(0.0)


EGD = ("SESSION_ID,MEDIA_ID,CNT,TIME (in secs),TIMETICK(f=10000000),FPOGX,FPOGY,FPOGS,FPOGD,"
       "FPOGID,FPOGV,BPOGX,BPOGY,BPOGV,DICOM_ID,X_ORIGINAL,Y_ORIGINAL")


def egd_rows():
    out = []
    for fid, dicom, x, y, n in [(1, "d1", 100, 50, 20), (2, "d1", 400, 50, 20),
                                (3, "d2", 10, 190, 30)]:
        for k in range(n):
            t = (fid - 1) * 0.5 + k / 60
            out.append(f"7,{fid},{k},{t:.5f},{int(t * 1e7)},0.5,0.5,{(fid - 1) * 0.5:.5f},"
                       f"{k / 60:.5f},{fid},1,0.5,0.5,1,{dicom},{x},{y}")
    return out


def test_egd_cxr_original_pixels(tmp_path):
    imgs = tmp_path / "images"
    imgs.mkdir()
    Image.new("L", (300, 200)).save(imgs / "d1.png")
    Image.new("L", (100, 200)).save(imgs / "d2.png")
    p = write(tmp_path / "fixations.csv", egd_rows(), EGD)
    assert sniff_format(p) == "gazepoint"
    res = ingest_file(p, IngestOptions(images=str(imgs)))
    f = res.fixations
    assert dict(res.dropped) == {"outside_image": 1}  # x = 400 on a 300 px image
    assert f["image"].to_list() == ["d1", "d2"] and set(f["session"]) == {"7"}
    np.testing.assert_allclose(f["x"], [100 / 300, 10 / 100])
    np.testing.assert_allclose(f["y"], [50 / 200, 190 / 200])
    assert (f["width"].to_list(), f["height"].to_list()) == ([300, 100], [200, 200])


def test_egd_cxr_needs_the_image_size(tmp_path):
    p = write(tmp_path / "fixations.csv", egd_rows(), EGD)
    with pytest.raises(GazeprepError, match="pixels of image 'd1', whose size is unknown"):
        ingest_file(p, IngestOptions())
    res = ingest_file(p, IngestOptions(lenient=True))
    assert res.rows_kept == 0 and dict(res.dropped) == {"unknown_image_size": 3}


@pytest.mark.parametrize("edit, match, line", [
    (lambda h, r: (h.replace("FPOGD,", ""), [",".join(x.split(",")[:8] + x.split(",")[9:])
                                              for x in r]), "lacks column", 1),
    (lambda h, r: (h, r[:10] + [r[3]] + r[10:]), "earlier than the previous row's", 12),
    (lambda h, r: (h, r[:5] + [r[5].replace(",0.5,", ",zero,", 1)] + r[6:]),
     "column 'FPOGX' is 'zero'", 7),
    (lambda h, r: (h, r[:-1] + [r[-1][:12]]), "row has 4 fields, the header 14", 115),
])
def test_bad_gazepoint_files(tmp_path, edit, match, line):
    head, lines = edit(HEADER, rows(SPEC))
    p = write(tmp_path / "bad.csv", lines, head)
    with pytest.raises(GazeprepError, match=match) as exc:
        ingest_file(p, IngestOptions(format="gazepoint"))
    assert exc.value.line == line


def test_clock_restarting_with_each_image(tmp_path):
    """EGD-CXR's TIME starts again with each session and image: not a time going back."""
    lines = rows(SPEC[:1]) + [r.replace("a,a.png", "b,b.png") for r in rows(SPEC[:1])]
    f = ingest_file(write(tmp_path / "gp.csv", lines), IngestOptions()).fixations
    assert f["image"].to_list() == ["a", "b"]
    np.testing.assert_allclose(f["onset_ms"], [0, 0], atol=1e-6)
