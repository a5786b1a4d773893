"""Bad Tobii exports through the command line: one line naming file, line and what was
expected, exit 1, no output written, the inputs byte-identical."""

from __future__ import annotations

import pytest


def _break(kind: str, prolab, tmp_path):
    """A broken export of ``kind``, the line the error must name, and words it must say."""
    path = prolab()
    lines = path.read_text(encoding="utf-8").splitlines()
    if kind == "truncated":
        data = "\n".join(lines)
        path.write_text(data[: len(data) - 40], encoding="utf-8")  # cut mid-row, no newline
        return path, len(lines), "ends in the middle of a row"
    if kind == "missing column":
        head = lines[0].split("\t")
        keep = [i for i, c in enumerate(head) if not c.startswith(("Gaze point", "Fixation"))]
        path.write_text("\n".join("\t".join(ln.split("\t")[i] for i in keep) for ln in lines)
                        + "\n", encoding="utf-8")
        return path, 1, "lacks gaze columns"
    if kind == "mixed decimals":
        n = 40
        lines[n] = lines[n].replace("3,10", "3.10")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path, n + 1, "mixed decimal separators"
    if kind == "time backwards":
        n = 60
        fields = lines[n].split("\t")
        fields[1] = str(int(fields[1]) - 100_000)
        lines[n] = "\t".join(fields)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path, n + 1, "earlier than the previous sample"
    if kind == "text in a number":
        n = 50
        lines[n] = lines[n].replace("3,20", "high")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path, n + 1, "expected a finite number"
    path = tmp_path / "other.tsv"
    path.write_text("when\twhere\twhat\n1\t2\t3\n", encoding="utf-8")
    return path, 1, "not a Tobii Pro Lab data export"


@pytest.mark.parametrize("kind", ["truncated", "missing column", "mixed decimals",
                                  "time backwards", "text in a number", "unknown header"])
def test_bad_export_one_line_exit_1(kind, prolab, tmp_path, run_cli, error_line, untouched):
    path, line, words = _break(kind, prolab, tmp_path)
    out = tmp_path / "gaze"
    check = untouched(path)
    fmt = ["--format", "tobii-prolab"] if kind == "unknown header" else []
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(out), *fmt)
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)
    assert msg.startswith(f"gazeprep: error: {path}:{line}: ") and words in msg, msg
    assert "expected" in msg, msg
    assert not out.exists()
    check()


def test_unknown_header_auto(tmp_path, run_cli, error_line):
    path = tmp_path / "other.tsv"
    path.write_text("when\twhere\twhat\n1\t2\t3\n", encoding="utf-8")
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(tmp_path / "g"))
    assert r.returncode == 1
    assert "unknown format" in error_line(r.stderr) and "Tobii" in error_line(r.stderr)


def test_truncated_lenient_reads_the_rest(prolab, tmp_path, run_cli):
    path, line, _ = _break("truncated", prolab, tmp_path)
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(tmp_path / "g"), "--lenient")
    assert r.returncode == 0, r.stderr
    import json

    files = json.loads((tmp_path / "g" / "ingest.json").read_text())["inputs"]
    assert files[0]["errors"][0]["line"] == line
