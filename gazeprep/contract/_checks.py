"""What an image file's header may claim, checked before its claims are acted on.

Three rules shared by every reader of :mod:`gazeprep.contract.images`:

- a file names another file only inside its own folder (:func:`file_beside`): an NRRD's
  ``data file`` is resolved, links followed, and must lie in the header's folder;
- sizes claimed by a header are checked against the data and the memory left before anything
  is allocated (:func:`check_frames`, :func:`check_memory`, :data:`DEFLATE_MAX_RATIO`), and a
  decoder that runs out of memory anyway ends with one line (:func:`out_of_memory`);
- header numbers are finite (:func:`finite_number`) and so are the values they give
  (:func:`check_finite`; images may mark "no data" with NaN, masks may not).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gazeprep.contract.errors import InputError

#: Most frames (or slices) one file may hold: ids are made per frame before any pixel is read.
MAX_FRAMES = 100_000
#: Deflate (gzip, zlib, PNG) never inflates one byte to more than 1032 (RFC 1951's longest
#: match, 258 bytes, costs at least 2 bits): a header claiming more is not telling the truth.
DEFLATE_MAX_RATIO = 1032


def human_bytes(n: float) -> str:
    """``n`` bytes as a short text (``2.5 GiB``)."""
    unit = "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            break
        n, unit = n / 1024, bigger
    return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"


def file_beside(header: Path, named: str, field: str) -> Path:
    """The file ``named`` by ``header``'s ``field``, which must lie in the header's folder.

    ``named`` is taken relative to the folder the header really is in (links followed); the
    result, links followed too, must be inside that folder. Nothing outside is opened or
    examined beyond resolving the name, and the message is the same whether the outside file
    exists or not, so it tells nothing about it.

    Raises
    ------
    InputError
        Naming the header and the field.
    """
    folder = Path(os.path.realpath(header)).parent
    target = Path(os.path.realpath(folder / named))
    if not target.is_relative_to(folder) or target == folder:
        raise InputError(f"{field} {named!r} is not a file in the header's own folder; "
                         f"expected a file name beside the header (files elsewhere are never "
                         f"read)", file=header)
    if not target.is_file():
        raise InputError(f"{field} {named!r}: no such file beside the header", file=header)
    return target


def check_frames(frames: int, path: Path, field: str) -> int:
    """``frames`` when it is a whole number in 1..:data:`MAX_FRAMES`, else an InputError."""
    if not 1 <= frames <= MAX_FRAMES:
        raise InputError(f"{field} {frames}: expected a whole number from 1 to {MAX_FRAMES} "
                         f"(frames or slices per file)", file=path)
    return frames


def check_claim(claimed: int, available: int, path: Path, what: str) -> None:
    """Refuse a header that claims more bytes (``claimed``) than the file holds (``available``)."""
    if claimed > available:
        raise InputError(f"{what} claims {human_bytes(claimed)} ({claimed} bytes) but the file "
                         f"holds at most {human_bytes(available)}; expected a header that "
                         f"matches its data", file=path)


def memory_available() -> int | None:
    """Bytes this process can still allocate, or None when nothing says (not Linux).

    The least of: the address space ``RLIMIT_AS`` leaves, the system's ``MemAvailable`` and
    what the cgroup (a container's or a scheduler job's memory limit) leaves.
    """
    found = [v for v in memory_left() if v is not None]
    return min(found) if found else None


def memory_left() -> tuple[int | None, int | None]:
    """``(address space, memory)`` this process can still use, each None when nothing limits
    or says it: what ``RLIMIT_AS`` leaves (virtual: counts reserved, untouched pages too), and
    the least of ``MemAvailable`` and the cgroup's room (resident pages)."""
    space = None
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            space = soft - _status_kib("/proc/self/status", "VmSize:") * 1024
    except (ImportError, OSError, ValueError):
        pass
    found = []
    try:
        found.append(_status_kib("/proc/meminfo", "MemAvailable:") * 1024)
    except (OSError, ValueError):
        pass
    left = _cgroup_left()
    if left is not None:
        found.append(left)
    return space, (min(found) if found else None)


def _status_kib(path: str, key: str) -> int:
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise ValueError(key)


def _cgroup_left() -> int | None:
    """What a cgroup v2 memory limit leaves (its file cache counted as free), or None."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            rel = next(ln.split("::", 1)[1].strip() for ln in f if ln.startswith("0::"))
        base = Path("/sys/fs/cgroup") / rel.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((base / "memory.current").read_text())
        stat = dict(ln.split() for ln in (base / "memory.stat").read_text().splitlines())
        return int(limit) - used + int(stat.get("inactive_file", 0))
    except (OSError, ValueError, StopIteration):
        return None


def check_memory(nbytes: int, path: Path, what: str) -> None:
    """Refuse to decode ``nbytes`` when the process cannot hold them (before allocating)."""
    left = memory_available()
    if left is not None and nbytes > left:
        raise InputError(f"{what} needs {human_bytes(nbytes)} of memory but this process can "
                         f"use only {human_bytes(max(left, 0))} more; expected a smaller file "
                         f"or more memory", file=path)


def out_of_memory(path: Path, what: str) -> InputError:
    """The error for a decoder that ran out of memory after the checks let it start."""
    return InputError(f"ran out of memory decoding {what}; expected a smaller file or more "
                      f"memory", file=path)


def finite_number(value, path: Path, field: str, *, positive: bool = False) -> float:
    """``value`` as a float that is finite (and > 0 when ``positive``), else an InputError
    naming ``field``; a value that is no number raises TypeError or ValueError."""
    v = float(value)
    if not (np.isfinite(v) and (v > 0 or not positive)):
        raise InputError(f"{field} is {v!r}; expected a finite number"
                         f"{' > 0' if positive else ''}", file=path)
    return v


def check_finite(values: np.ndarray, path: Path, what: str, *, nan_ok: bool = False) -> None:
    """Refuse an array holding infinity or NaN, naming how many and where the first is.

    With ``nan_ok`` (images), NaN is "no data", as resampled and registered volumes mark what
    lies outside the field of view: it is shown black and left out of the automatic window,
    but an array with no finite value at all is refused. Masks have no such value.
    """
    if values.dtype.kind not in "fc":
        return
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = np.isinf(values) if nan_ok else ~finite
    if nan_ok and not bad.any():
        if finite.any():
            return
        raise InputError(f"{what}: every value is NaN; expected finite numbers", file=path)
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    kind = "infinite" if nan_ok else "NaN or infinite"
    raise InputError(f"{what}: {int(bad.sum())} {kind} value(s) (first at index {first}); "
                     f"expected finite numbers", file=path)
