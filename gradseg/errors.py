"""Errors a user can act on: they name the file, or the option, and what was expected."""

from __future__ import annotations

from pathlib import Path

from gazeprep.contract.errors import InputError, reason


class GradsegError(InputError):
    """A failure caused by the input or the environment, reported as one line (exit code 1).

    A subclass of the contract's :class:`~gazeprep.contract.errors.InputError`, so a caller
    catching either sees every bad-input error of gradseg.

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file or folder the problem is in.
    """

    def __init__(self, message: str, *, file: str | Path | None = None):
        super().__init__(message, file=file)


def usage_error(option: str, message: str) -> Exception:
    """A usage error about ``option``: the command line exits with code 2 and says why.

    Example: ``raise usage_error("--val-target", "mask: the cache has no masks")``.
    """
    import typer

    return typer.BadParameter(message, param_hint=f"'{option}'")


def one_line(exc: BaseException) -> str:
    """The error's message on one line, torch's own messages told in terms of what to do.

    A DataLoader worker's error comes back as "Caught X in DataLoader worker process N." plus
    the worker's traceback; its last line holds the original message. torch's C++ errors
    (memory, shared memory, killed workers) are replaced by :func:`torch_reason`.
    """
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY.format(size="what it needed")
    text = reason(exc)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and "Original Traceback" in text:
        import re

        return torch_reason(re.sub(r"^[\w.]+: ", "", lines[-1], count=1))
    return torch_reason(" ".join(ln.strip() for ln in lines))


OUT_OF_MEMORY = ("out of memory: could not allocate {size} (the machine's memory or the "
                 "job's limit is used up); lower --batch-size or --base-channels, use fewer "
                 "--workers, or render the cache at a smaller --size")

#: torch's message (a regular expression) -> what it means for a gradseg user.
_TORCH_REASONS = (
    (r"DefaultCPUAllocator: (?:can't allocate memory|not enough memory): you tried to "
     r"allocate (?P<bytes>\d+) bytes",
     OUT_OF_MEMORY),
    (r"CUDA out of memory\. Tried to allocate (?P<cuda>[\d.]+ [KMGT]?i?B)",
     "out of GPU memory: torch could not allocate {cuda} more on the GPU; lower --batch-size "
     "or --base-channels, or run on the CPU (--device cpu)"),
    (r"unable to (?:allocate shared memory\(shm\)|write to file|open shared memory object)"
     r"[^:]*</torch_",
     "shared memory (/dev/shm) is full: the loader's --workers hand batches over through it; "
     "run with --workers 0, or give the machine or container more (docker run --shm-size=2g)"),
    (r"bus error encountered in worker",
     "a loader worker crashed for want of shared memory (/dev/shm); run with --workers 0, or "
     "give the machine or container more (docker run --shm-size=2g)"),
    (r"DataLoader worker \(pids?(?:\(s\))? [\d, ]+\) (?:is killed by signal: (?P<sig>[\w ]+)"
     r"|exited unexpectedly)",
     "a loader worker process was killed{by} (most often the system running out of memory); "
     "use fewer --workers or a lower --batch-size, or run with --workers 0"),
)


def torch_reason(text: str) -> str:
    """``text`` itself, or, when it is one of torch's C++ messages that names no cause a user
    can act on (:data:`_TORCH_REASONS`), what it means and what to do. The C++ origin that
    torch appends ("Exception raised from ...") is never shown.
    """
    import re

    text = re.split(r"\s*Exception raised from ", text, maxsplit=1)[0]
    for pattern, meaning in _TORCH_REASONS:
        found = re.search(pattern, text)
        if found is None:
            continue
        got = found.groupdict()
        size = f"{int(got['bytes']) / 2**20:,.1f} MiB" if got.get("bytes") else ""
        sig = (got.get("sig") or "").strip()
        return meaning.format(size=size, cuda=got.get("cuda") or "",
                             by=f" (signal {sig})" if sig else "")
    return text
