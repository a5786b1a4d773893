"""Id files: lists of image ids, one a line, as ``gazeprep split`` writes them and every
``--ids`` / ``--test-ids`` option of gazeprep and gradseg reads them.

Format: UTF-8 text, one id per line; blank lines and everything after a ``#`` are ignored; a
line naming an image file (``a.png``, ``b.nii.gz``, ``c.dcm``) gives the file's id (its name
without the extension). Any other line is the id as written, dots included
(``1.2.840.10008``), so ids that contain dots survive a round trip.
"""

from __future__ import annotations

from pathlib import Path

from gazeprep.contract.errors import InputError

#: File extensions a line may carry: the line gives the file's id, the name without them.
ID_FILE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".dcm", ".dicom", ".png", ".jpg", ".jpeg",
                    ".bmp", ".tif", ".tiff")


def id_of_line(line: str) -> str | None:
    """The id one line of an id file gives, or None for a blank or comment line.

    Examples
    --------
    >>> [id_of_line(s) for s in ("a", "b.png  # file", "# note", "1.2.840", "v.nii.gz")]
    ['a', 'b', None, '1.2.840', 'v']
    """
    s = line.split("#", 1)[0].strip()
    if not s:
        return None
    low = s.lower()
    for suffix in ID_FILE_SUFFIXES:
        if low.endswith(suffix) and len(s) > len(suffix):
            return Path(s[: -len(suffix)]).name
    return s


def check_file_names(ids, where: str | Path) -> None:
    """Refuse an id that is not a plain file name: ids name the files of exports, predictions
    and pictures, so ``../x``, ``/x``, ``a/b``, ``a\\b``, ``.``, ``..``, a NUL or an empty id
    would write outside the output folder.

    Raises
    ------
    InputError
        Naming the first such id and ``where`` it came from.
    """
    for i in ids:
        if not i or i in (".", "..") or any(c in i for c in "/\\\0"):
            raise InputError(f"sample id {i!r} is not a file name (ids name the files of exports "
                             "and predictions); expected no path separators, NUL, '.' or '..'",
                             file=where)


def read_ids_file(path: str | Path) -> list[str]:
    """The ids of an id file, in file order (see the module notes for the format).

    Raises
    ------
    InputError
        The file is missing, not a regular file or not UTF-8 text.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("ids file not found", file=p)
    if not p.is_file():  # a pipe would block the read
        raise InputError("the ids file is not a regular file (a folder, named pipe or device); "
                         "expected a text file of ids, one a line", file=p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the ids file as UTF-8 text ({exc})", file=p) from exc
    return [i for i in map(id_of_line, text.splitlines()) if i is not None]


def ids_text(ids: list[str], comment: str = "") -> str:
    """An id file's text: an optional ``# comment`` line, then one id a line.

    Raises
    ------
    ValueError
        An id holds ``#``, a line break or surrounding blanks: it would not read back.
    """
    bad = [i for i in ids if "#" in i or "\n" in i or "\r" in i or i != i.strip() or not i]
    if bad:
        raise ValueError(f"{len(bad)} id(s) cannot be written to an id file, e.g. {bad[:3]}")
    head = f"# {comment}\n" if comment else ""
    return head + "".join(f"{i}\n" for i in ids)
