"""`gradseg train --config FILE`: TOML, YAML or a run's config.json; flags override the file."""

from __future__ import annotations

import json

import pytest

TINY = ["--batch-size", 4, "--base-channels", 4, "--lr", 0.003, "--warmup", 2,
        "--eval-every", 3, "--checkpoint-every", 3, "--val-fraction", 0.2, "--device", "cpu",
        "--threads", 1]


def _config(out) -> dict:
    return json.loads((out / "config.json").read_text())


def _losses(out) -> list[float]:
    return [json.loads(ln)["loss"] for ln in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_runs_config_json_reruns_the_same_run(toy_cache, tmp_path, gradseg_cli) -> None:
    first = tmp_path / "first"
    code, _, err = gradseg_cli("train", "--cache", toy_cache(), "--out", first,
                               "--iterations", 6, "--seed", 3, "--method", "gazesup",
                               "--thresholds", "0.4,0.2", *TINY)
    assert code == 0, err
    again = tmp_path / "again"
    code, _, err = gradseg_cli("train", "--config", first / "config.json", "--out", again)
    assert code == 0, err
    a, b = _config(first), _config(again)
    assert a.pop("out") != b.pop("out")
    assert a == b
    assert a["method"] == "gazesup" and a["thresholds"] == [0.4, 0.2] and a["seed"] == 3
    assert _losses(first) == _losses(again)  # CPU runs are reproducible bit for bit


def _write(path, text: str):
    path.write_text(text)
    return path


def test_toml_and_yaml_give_the_same_settings(tmp_path) -> None:
    pytest.importorskip("yaml")
    from gradseg.config import read_config_file

    toml = _write(tmp_path / "exp.toml", 'cache = "c.zarr"\nmethod = "full"\n'
                  "iterations = 10\nlr = 1\nthresholds = [0.5, 0.25]\naugment = false\n"
                  '[fgi]\ndarm_ratio = 0.2\n')
    yaml = _write(tmp_path / "exp.yaml", "cache: c.zarr\nmethod: full\niterations: 10\n"
                  "lr: 1\nthresholds: [0.5, 0.25]\naugment: false\nfgi:\n  darm_ratio: 0.2\n")
    expected = {"cache": "c.zarr", "method": "full", "iterations": 10, "lr": 1.0,
                "thresholds": [0.5, 0.25], "augment": False, "fgi": {"darm_ratio": 0.2}}
    assert read_config_file(toml) == expected
    assert read_config_file(yaml) == expected
    assert isinstance(read_config_file(toml)["lr"], float)


def test_flags_given_override_the_file(toy_cache, tmp_path, gradseg_cli) -> None:
    pytest.importorskip("yaml")
    cfg = _write(tmp_path / "exp.yml", f"cache: {toy_cache()}\nbatch-size: 2\nseed: 5\n"
                 "base_channels: 4\niterations: 2\neval_every: 1\ndevice: cpu\nthreads: 1\n")
    out = tmp_path / "run"
    # --batch-size 8 is the option's default: given on the command line, it still wins
    code, _, err = gradseg_cli("train", "--config", cfg, "--out", out, "--batch-size", 8,
                               "--epochs", 1)
    assert code == 0, err
    got = _config(out)
    assert got["batch_size"] == 8 and got["seed"] == 5 and got["base_channels"] == 4
    assert got["epochs"] == 1 and got["iterations"] == 1  # --epochs replaced the file's count


@pytest.mark.parametrize(("name", "text", "message"), [
    ("bad.toml", "cache = 'c.zarr'\nlrr = 0.1\n", "unknown setting 'lrr'; did you mean 'lr'?"),
    ("bad.toml", "batch_size = 'eight'\n", "setting 'batch_size': expected int, got 'eight'"),
    ("bad.toml", "augment = 1\n", "setting 'augment': expected bool, got 1"),
    ("bad.toml", "cache = 'c.zarr'\nlr = \n", "not valid TOML: "),
    ("bad.json", '{"cache": "c.zarr",\n "lr": }', "line 2: not valid JSON"),
    ("bad.toml", "thresholds = [0.5, 'x']\n", "setting 'thresholds': expected list[float]"),
    ("bad.ini", "lr = 1\n", "expected a .toml, .yaml, .yml or .json settings file"),
])
def test_a_bad_file_is_one_line_naming_it(tmp_path, gradseg_cli, error_line, untouched,
                                          name, text, message) -> None:
    path = _write(tmp_path / name, text)
    check = untouched(tmp_path)
    code, _, err = gradseg_cli("train", "--config", path, "--out", tmp_path / "run")
    assert code == 1, err
    line = error_line(err)
    assert str(path) in line and message in line, line
    check()


def test_yaml_error_names_its_line(tmp_path, gradseg_cli, error_line) -> None:
    pytest.importorskip("yaml")
    path = _write(tmp_path / "bad.yaml", "cache: c.zarr\nlr: [1\nseed: 2\n")
    code, _, err = gradseg_cli("train", "--config", path)
    assert code == 1 and "not valid YAML" in error_line(err) and "line " in error_line(err)


def test_cache_is_required_from_the_file_or_the_flag(tmp_path, gradseg_cli) -> None:
    path = _write(tmp_path / "exp.toml", "iterations = 3\n")
    code, _, err = gradseg_cli("train", "--config", path)
    assert code == 2 and "--cache" in err
