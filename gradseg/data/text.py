"""Per-image text cues: token embeddings (T, D) from a Parquet table or a folder of ``.npy``.

Formats (``--text PATH``)
-------------------------
- **Parquet** (a ``.parquet`` file): one row per image, columns

  - ``image``: string, the image id (the cache id, i.e. the file stem);
  - ``embedding``: the image's token vectors, float (float16/32/64 are read as float32), either
    ``list<list<float>>`` or ``list<fixed_size_list<float, D>>`` (T tokens of width D, T >= 1,
    T may differ between rows), or ``list<float>`` / ``fixed_size_list<float, D>`` (one pooled
    vector, read as T = 1).

  D is read from the data and must be the same in every row. Other columns are ignored.
- **Folder** of ``<id>.npy`` (FGI's ``embeddings/`` layout): float arrays of shape (T, D),
  (D,) (one token) or with leading singleton axes, e.g. (1, T, D).

Errors name the file and the image id: a duplicated or null id, an empty, null or non-finite
embedding, a width that differs from the others, and (with ``missing='error'``, the default) an
image without a cue. With ``missing='zero'`` such an image gets one all-zero token and its id is
recorded in :attr:`TextCues.zeroed` for the run summary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradseg.errors import GradsegError

MISSING = ("error", "zero")


class TextCues:
    """Text token embeddings by image id.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file or a folder of ``<id>.npy`` files (see the module notes).
    missing : {'error', 'zero'}
        What an image without a cue gets.

    Attributes
    ----------
    width : int
        Embedding width D.
    zeroed : set of str
        Ids that received a zero cue (``missing='zero'``).

    Examples
    --------
    >>> cues = TextCues("embeddings.parquet")                  # doctest: +SKIP
    >>> cues.check(["img1", "img2"])                            # doctest: +SKIP
    >>> text, pad = cues.batch(["img1", "img2"], pad_to=cues.max_tokens)   # doctest: +SKIP
    """

    def __init__(self, path: str | Path, missing: str = "error"):
        if missing not in MISSING:
            raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
        self.path = Path(path)
        self.missing = missing
        self.zeroed: set[str] = set()
        self._arrays: dict[str, np.ndarray] = {}
        self._files: dict[str, Path] | None = None
        if self.path.is_dir():
            self._files = {p.stem: p for p in sorted(self.path.glob("*.npy"))}
            if not self._files:
                raise GradsegError("no <id>.npy text embeddings in the folder", file=self.path)
            self.width = _token_shape(self._header(next(iter(self._files))), self._first())[1]
        elif self.path.is_file():
            self._arrays = read_parquet(self.path)
            self.width = next(iter(self._arrays.values())).shape[1]
        else:
            raise GradsegError("text embeddings not found (a .parquet file or a folder of "
                               "<id>.npy files)", file=self.path)
        self._tokens: dict[str, int] = {k: len(v) for k, v in self._arrays.items()}

    def _first(self) -> Path:
        return next(iter(self._files.values()))

    def _header(self, key: str) -> tuple[int, ...]:
        p = self._files[key]
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GradsegError(f"not a .npy array ({exc})", file=p) from exc
        if not np.issubdtype(arr.dtype, np.floating):
            raise GradsegError(f"text embedding has dtype {arr.dtype}, expected float", file=p)
        return tuple(arr.shape)

    @property
    def ids(self) -> list[str]:
        """Ids that have a cue."""
        return list(self._files) if self._files is not None else list(self._arrays)

    def check(self, ids: list[str]) -> list[str]:
        """Verify every id has a usable cue (shape and width; folder: headers only).

        Returns the ids without a cue (they get zero cues with ``missing='zero'``); raises
        :class:`GradsegError` naming them with ``missing='error'``.
        """
        have = set(self.ids)
        absent = [i for i in ids if i not in have]
        if absent and self.missing == "error":
            raise GradsegError(f"no text embedding for image {absent[0]!r}"
                               + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else "")
                               + "; add it, or pass --text-missing zero", file=self.path)
        if self._files is not None:
            for i in ids:
                if i in have and i not in self._tokens:
                    shape = _token_shape(self._header(i), self._files[i])
                    self._check_width(shape[1], i, self._files[i])
                    self._tokens[i] = shape[0]
        return absent

    @property
    def max_tokens(self) -> int:
        """Largest token count T among the cues known so far (pad to it for static shapes)."""
        return max(self._tokens.values(), default=1)

    def _check_width(self, d: int, key: str, file: Path) -> None:
        if d != self.width:
            raise GradsegError(f"text embedding of image {key!r} has width {d}, the others "
                               f"{self.width}", file=file)

    def get(self, key: str) -> np.ndarray:
        """The cue of image ``key``: float32 (T, D)."""
        if key in self._arrays:
            return self._arrays[key]
        if self._files is not None and key in self._files:
            p = self._files[key]
            arr = np.load(p, allow_pickle=False)
            arr = arr.reshape(_token_shape(arr.shape, p)).astype(np.float32)
            self._check_width(arr.shape[1], key, p)
            _check_finite(arr, key, p)
            self._arrays[key] = arr
            self._tokens[key] = len(arr)
            return arr
        if self.missing == "zero":
            self.zeroed.add(key)
            return np.zeros((1, self.width), np.float32)
        raise GradsegError(f"no text embedding for image {key!r}; add it, or pass "
                           "--text-missing zero", file=self.path)

    def batch(self, ids: list[str], pad_to: int | None = None, device=None):
        """Padded cues of a batch.

        Returns
        -------
        text : Tensor (B, T, D) float32
            T = ``pad_to`` or the batch's largest token count; padding rows are 0.
        pad : Tensor (B, T) bool
            True at padding tokens (``key_padding_mask`` of the attention).
        """
        import torch

        arrays = [self.get(i) for i in ids]
        t = max(len(a) for a in arrays)
        if pad_to is not None:
            if pad_to < t:
                raise ValueError(f"pad_to={pad_to} < the batch's {t} tokens")
            t = pad_to
        text = np.zeros((len(ids), t, self.width), np.float32)
        pad = np.ones((len(ids), t), bool)
        for j, a in enumerate(arrays):
            text[j, : len(a)] = a
            pad[j, : len(a)] = False
        return torch.from_numpy(text).to(device), torch.from_numpy(pad).to(device)


def _token_shape(shape: tuple[int, ...], file: Path) -> tuple[int, int]:
    """(T, D) of an array shape: (D,) -> (1, D); leading singleton axes are dropped."""
    dims = list(shape)
    while len(dims) > 2 and dims[0] == 1:
        dims.pop(0)
    if len(dims) == 1:
        dims = [1, dims[0]]
    if len(dims) != 2 or dims[0] < 1 or dims[1] < 1:
        raise GradsegError(f"text embedding has shape {tuple(shape)}, expected (T, D) with "
                           "T, D >= 1", file=file)
    return dims[0], dims[1]


def _check_finite(arr: np.ndarray, key: str, file: Path) -> None:
    if not np.isfinite(arr).all():
        raise GradsegError(f"text embedding of image {key!r} has NaN or infinite values",
                           file=file)


def read_parquet(path: Path) -> dict[str, np.ndarray]:
    """All cues of a Parquet table (see the module notes) as {id: float32 (T, D)}."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["image", "embedding"])
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise GradsegError(f"not a text-embedding table with columns image and embedding "
                           f"({exc})", file=path) from exc
    if table.num_rows == 0:
        raise GradsegError("text-embedding table has no rows", file=path)
    ids = [None if i is None else str(i) for i in table.column("image").to_pylist()]
    if None in ids:
        raise GradsegError(f"row {ids.index(None)} has no image id", file=path)
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise GradsegError(f"image {i!r} appears twice", file=path)
        seen.add(i)
    col = table.column("embedding").combine_chunks()
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
            or pa.types.is_fixed_size_list(col.type)):
        raise GradsegError(f"column embedding has type {col.type}, expected a list of float "
                           "vectors", file=path)
    nested = not pa.types.is_floating(col.type.value_type)
    _null_row(col, ids, path, "embedding is null")
    tokens = (pc.list_value_length(col).to_numpy(zero_copy_only=False) if nested
              else np.ones(len(ids), np.int64))
    if (tokens == 0).any():
        raise GradsegError(f"image {ids[int(np.argmax(tokens == 0))]!r} has no token vectors",
                           file=path)
    vectors = col.flatten() if nested else col
    row_of = np.repeat(np.arange(len(ids)), tokens)
    _null_row(vectors, [ids[r] for r in row_of], path, "has a null token vector")
    if not pa.types.is_floating(vectors.type.value_type):
        raise GradsegError(f"embedding values have type {vectors.type.value_type}, expected "
                           "float", file=path)
    widths = pc.list_value_length(vectors).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(widths != widths[0])
    if bad.size:
        raise GradsegError(f"text embedding of image {ids[row_of[bad[0]]]!r} has width "
                           f"{widths[bad[0]]}, the others {widths[0]}", file=path)
    if widths[0] < 1:
        raise GradsegError(f"text embedding of image {ids[0]!r} has width 0", file=path)
    values = vectors.flatten().cast(pa.float32())
    if values.null_count:
        raise GradsegError("embedding values contain nulls", file=path)
    flat = values.to_numpy(zero_copy_only=False).reshape(len(row_of), int(widths[0]))
    starts = np.concatenate([[0], np.cumsum(tokens)])
    out = {}
    for j, key in enumerate(ids):
        arr = flat[starts[j]: starts[j + 1]]
        _check_finite(arr, key, path)
        out[key] = arr
    return out


def _null_row(arr, ids: list[str], path: Path, what: str) -> None:
    if arr.null_count:
        first = int(np.argmax(arr.is_null().to_numpy(zero_copy_only=False)))
        raise GradsegError(f"image {ids[first]!r}: {what}", file=path)
