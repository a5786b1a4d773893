"""Make the documentation's pictures (docs/img/) with the project's own commands.

    python pipelines/docs_figures.py [--work /tmp/docs_figures]

- ``dataflow.png``: the data flow, drawn with Pillow;
- ``show.png``: ``gazeprep show`` of one simulated image (gaze, track maps, heatmap,
  pseudo-mask, ground-truth contour);
- ``curves.png`` and ``val.png``: a short ``gradseg train`` on the same simulated cache.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"

BOXES = [
    ("raw logs", "EyeLink ASC/EDF, Tobii,\nSMI, Pupil, Gazepoint,\nfixation reports"),
    ("gazeprep ingest", "fixations.parquet\ntracks.parquet\nquality.parquet"),
    ("gazeprep render", "maps.zarr: images,\ntrack maps, heatmap,\npseudo-masks"),
    ("gradseg train", "runs/NAME: best.pt,\ncurves, val.png"),
    ("gradseg eval / predict", "Dice, IoU, HD95;\nmasks at each\nimage's size"),
]


def dataflow(path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    w, h, gap = 230, 150, 40
    img = Image.new("RGB", (len(BOXES) * (w + gap) + gap, h + 80), "white")
    draw = ImageDraw.Draw(img)
    title = ImageFont.load_default(size=18)
    body = ImageFont.load_default(size=15)
    for k, (name, text) in enumerate(BOXES):
        x = gap + k * (w + gap)
        draw.rounded_rectangle((x, 40, x + w, 40 + h), 12, outline="#1f5f99", width=3,
                               fill="#eef4fb")
        draw.text((x + w / 2, 58), name, fill="#1f5f99", font=title, anchor="mt")
        draw.multiline_text((x + w / 2, 92), text, fill="black", font=body, anchor="ma",
                            align="center", spacing=6)
        if k:
            y = 40 + h / 2
            draw.line((x - gap + 4, y, x - 8, y), fill="#444", width=3)
            draw.polygon([(x - 4, y), (x - 14, y - 7), (x - 14, y + 7)], fill="#444")
    draw.text((gap, 12), "gazeprep (CPU) and gradseg (PyTorch) meet only at the cache format",
              fill="#444", font=body)
    img.save(path)


def run(*args: str | Path, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", *map(str, args)], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/docs_figures"))
    work = ap.parse_args().work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    OUT.mkdir(parents=True, exist_ok=True)
    dataflow(OUT / "dataflow.png")
    run("gazeprep.cli", "simulate", "sim", "--images", "24", "--size", "96", "--seed", "0",
        cwd=work)
    run("gazeprep.cli", "ingest", "sim/raw", "--images", "sim/images", "--out", "gaze", cwd=work)
    run("gazeprep.cli", "render", "--levels", "4", "--size", "96", "--gaze", "gaze", "--images",
        "sim/images", "--masks", "sim/masks", "--out", "maps.zarr", cwd=work)
    run("gazeprep.cli", "show", "sim0_0000", "--cache", "maps.zarr", "--gaze", "gaze",
        "--out", OUT / "show.png", "--overwrite", cwd=work)
    run("gradseg.cli", "train", "--cache", "maps.zarr", "--out", "run", "--iterations", "120",
        "--batch-size", "4", "--base-channels", "8", "--eval-every", "20", "--threads", "1",
        "--quiet", cwd=work)
    for name in ("curves.png", "val.png"):
        shutil.copy(work / "run" / name, OUT / name)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} to {OUT}")


if __name__ == "__main__":
    main()
