"""What a run records besides its checkpoints: ``curves.png`` and, optionally, TensorBoard.

``metrics.jsonl`` (one line per validation) is written by the trainer; this module keeps every
step's loss for the curves, redraws ``curves.png`` after each validation from the whole of
``metrics.jsonl`` (a resumed run's earlier part included), and, when the ``tensorboard``
package is installed, logs the same numbers as TensorBoard scalars in the run folder itself
(``tensorboard --logdir runs`` then lists each run under its own name, and the validation
scalars under what they were measured against: ``val_vs_mask/dice`` or
``val_vs_pseudo/dice``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

#: The TensorBoard folder inside a run folder.


def tensorboard_writer(out: Path, log=print):
    """A ``SummaryWriter`` into the run folder ``out``, or None when tensorboard is missing."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(out), flush_secs=10)
    except Exception as exc:  # noqa: BLE001 - a broken optional install must not stop training
        log(f"note: TensorBoard logging off ({type(exc).__name__}: {exc})")
        return None


def read_metrics(path: Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` (a torn last line, from a kill, is skipped)."""
    records = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


class RunLog:
    """Per-step losses, ``curves.png`` and TensorBoard scalars of one run (rank 0).

    Parameters
    ----------
    out : Path
        The run folder.
    log : callable
        Receives one-line notes.
    """

    def __init__(self, out: Path, log=print):
        self.out = Path(out)
        self.steps: list[tuple[int, float]] = []
        self.writer = tensorboard_writer(self.out, log)

    def step(self, step: int, loss: float, lr: float) -> None:
        """One optimizer step's loss and learning rate."""
        self.steps.append((step, loss))
        if self.writer is not None:
            self.writer.add_scalar("train/loss", loss, step)
            self.writer.add_scalar("train/lr", lr, step)

    def validation(self, record: dict) -> None:
        """A ``metrics.jsonl`` record was written: log it and redraw ``curves.png``."""
        from gradseg.outputs import atomic_write
        from gradseg.pictures import curves

        if self.writer is not None:
            for key, value in record.items():
                if key.startswith("val_") and isinstance(value, float) and math.isfinite(value):
                    group = f"val_vs_{record.get('val_target', 'target')}"
                    self.writer.add_scalar(f"{group}/{key[4:]}", value, record["step"])
        records = read_metrics(self.out / "metrics.jsonl")
        atomic_write(self.out / "curves.png", lambda tmp: curves(records, tmp, self.steps))

    def close(self) -> None:
        """Flush TensorBoard's events."""
        if self.writer is not None:
            self.writer.close()
