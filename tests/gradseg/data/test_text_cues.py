"""Text cues: Parquet and .npy folders, any width and length, padding, and bad inputs."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradseg.errors import GradsegError
from gradseg.data.text import TextCues


def _cues(n_ids=3, width=16, seed=0):
    rng = np.random.default_rng(seed)
    return {f"img{i}": rng.standard_normal((i + 1, width)).astype(np.float32)
            for i in range(n_ids)}


def write_parquet(path, cues, kind="nested"):
    ids = list(cues)
    width = next(iter(cues.values())).shape[1]
    if kind == "nested":
        typ = pa.list_(pa.list_(pa.float32()))
        vals = [c.tolist() for c in cues.values()]
    elif kind == "fixed":
        typ = pa.list_(pa.list_(pa.float32(), width))
        vals = [c.tolist() for c in cues.values()]
    else:  # one pooled vector per image
        typ = pa.list_(pa.float32())
        vals = [c[0].tolist() for c in cues.values()]
    table = pa.table({"image": pa.array(ids), "embedding": pa.array(vals, type=typ),
                      "caption": pa.array(["x"] * len(ids))})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("kind", ["nested", "fixed"])
@pytest.mark.parametrize("width", [16, 768])
def test_parquet_round_trip(tmp_path, kind, width, unchanged):
    cues = _cues(width=width)
    path = write_parquet(tmp_path / "emb.parquet", cues, kind)
    check = unchanged(tmp_path)
    tc = TextCues(path)
    assert tc.width == width and tc.max_tokens == 3
    assert tc.check(list(cues)) == []
    for k, v in cues.items():
        np.testing.assert_array_equal(tc.get(k), v)
    text, pad = tc.batch(["img2", "img0"])
    assert text.shape == (2, 3, width) and pad.tolist() == [[False] * 3, [False, True, True]]
    np.testing.assert_array_equal(text[1, 0].numpy(), cues["img0"][0])
    assert float(text[1, 1:].abs().sum()) == 0.0
    text, pad = tc.batch(["img0"], pad_to=5)
    assert text.shape == (1, 5, width) and pad.sum() == 4
    check()


def test_parquet_pooled_vectors_are_one_token(tmp_path):
    cues = _cues()
    tc = TextCues(write_parquet(tmp_path / "e.parquet", cues, "flat"))
    assert tc.width == 16 and tc.get("img2").shape == (1, 16)
    np.testing.assert_array_equal(tc.get("img2")[0], cues["img2"][0])


def test_parquet_float64_is_read_as_float32(tmp_path):
    table = pa.table({"image": ["a"], "embedding": pa.array([[[1.5, 2.0], [3.0, 4.0]]],
                                                            type=pa.list_(pa.list_(pa.float64())))})
    pq.write_table(table, tmp_path / "e.parquet")
    arr = TextCues(tmp_path / "e.parquet").get("a")
    assert arr.dtype == np.float32 and arr.tolist() == [[1.5, 2.0], [3.0, 4.0]]


def test_folder_of_npy_in_fgi_layout(tmp_path, unchanged):
    folder = tmp_path / "embeddings"
    folder.mkdir()
    np.save(folder / "a.npy", np.ones((7, 32), np.float32))
    np.save(folder / "b.npy", np.full((32,), 2.0, np.float32))          # one vector
    np.save(folder / "c.npy", np.zeros((1, 2, 32), np.float64))          # leading axis
    check = unchanged(folder)
    tc = TextCues(folder)
    assert tc.width == 32
    assert tc.check(["a", "b", "c"]) == [] and tc.max_tokens == 7
    assert tc.get("b").shape == (1, 32) and tc.get("c").shape == (2, 32)
    assert tc.get("c").dtype == np.float32
    text, pad = tc.batch(["b", "a", "c"], pad_to=tc.max_tokens)
    assert text.shape == (3, 7, 32)
    assert pad.sum(1).tolist() == [6, 0, 5]
    check()


def test_missing_id_is_an_error_naming_it(tmp_path):
    tc = TextCues(write_parquet(tmp_path / "e.parquet", _cues()))
    with pytest.raises(GradsegError, match="'ghost'"):
        tc.check(["img0", "ghost"])
    with pytest.raises(GradsegError, match="'ghost'"):
        tc.get("ghost")


def test_missing_zero_is_recorded(tmp_path):
    tc = TextCues(write_parquet(tmp_path / "e.parquet", _cues()), missing="zero")
    assert tc.check(["img0", "ghost"]) == ["ghost"]
    text, pad = tc.batch(["ghost", "img1"])
    assert float(text[0].abs().sum()) == 0 and pad[0].tolist() == [False, True]
    assert tc.zeroed == {"ghost"}


def test_bad_tables_name_the_image(tmp_path):
    p = tmp_path / "e.parquet"
    typ = pa.list_(pa.list_(pa.float32()))
    pq.write_table(pa.table({"image": ["a", "b"], "embedding": pa.array(
        [[[1.0, 2.0]], [[1.0, 2.0, 3.0]]], type=typ)}), p)
    with pytest.raises(GradsegError, match="'b' has width 3"):
        TextCues(p)
    pq.write_table(pa.table({"image": ["a", "a"], "embedding": pa.array(
        [[[1.0]], [[2.0]]], type=typ)}), p)
    with pytest.raises(GradsegError, match="'a' appears twice"):
        TextCues(p)
    pq.write_table(pa.table({"image": ["a", "b"], "embedding": pa.array(
        [[[1.0]], []], type=typ)}), p)
    with pytest.raises(GradsegError, match="'b' has no token"):
        TextCues(p)
    pq.write_table(pa.table({"image": ["a", "b"], "embedding": pa.array(
        [[[1.0]], None], type=typ)}), p)
    with pytest.raises(GradsegError, match="'b'"):
        TextCues(p)
    pq.write_table(pa.table({"image": ["a", "b"], "embedding": pa.array(
        [[[1.0]], [[float("nan")]]], type=typ)}), p)
    with pytest.raises(GradsegError, match="'b' has NaN"):
        TextCues(p)
    pq.write_table(pa.table({"image": ["a"], "vec": pa.array([[[1.0]]], type=typ)}), p)
    with pytest.raises(GradsegError, match="columns image and embedding"):
        TextCues(p)
    pq.write_table(pa.table({"image": ["a"], "embedding": pa.array(["text"])}), p)
    with pytest.raises(GradsegError, match="expected a list"):
        TextCues(p)


def test_bad_folders(tmp_path):
    with pytest.raises(GradsegError, match="not found"):
        TextCues(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GradsegError, match="no <id>.npy"):
        TextCues(tmp_path / "empty")
    folder = tmp_path / "f"
    folder.mkdir()
    np.save(folder / "a.npy", np.ones((2, 8), np.float32))
    np.save(folder / "b.npy", np.ones((2, 9), np.float32))
    np.save(folder / "c.npy", np.ones((2, 8), np.int64))
    (folder / "d.npy").write_bytes(b"not numpy")
    tc = TextCues(folder)
    with pytest.raises(GradsegError, match="'b' has width 9"):
        tc.check(["a", "b"])
    with pytest.raises(GradsegError, match="dtype int64"):
        tc.check(["c"])
    with pytest.raises(GradsegError, match="not a .npy"):
        tc.check(["d"])


def test_parquet_in_several_row_groups(tmp_path):
    cues = _cues(n_ids=5, width=4)
    typ = pa.list_(pa.list_(pa.float32()))
    table = pa.table({"image": list(cues), "embedding": pa.array([c.tolist() for c in
                                                                  cues.values()], type=typ)})
    pq.write_table(table.slice(1), tmp_path / "e.parquet", row_group_size=1)
    tc = TextCues(tmp_path / "e.parquet")
    assert tc.ids == ["img1", "img2", "img3", "img4"]
    for k in tc.ids:
        np.testing.assert_array_equal(tc.get(k), cues[k])
