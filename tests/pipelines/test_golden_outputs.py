"""A refactor changes no output: ingest and render give the digests recorded before it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOLDEN = ROOT / "tests" / "golden" / "outputs.json"


def _module():
    sys.path.insert(0, str(ROOT / "pipelines"))  # as `python pipelines/...` does (_common)
    spec = importlib.util.spec_from_file_location("golden_outputs",
                                                  ROOT / "pipelines" / "golden_outputs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_outputs_match_the_recorded_digests(shared_data):
    shared_data("gazemedseg", "kvasir_fixation.csv")
    golden = _module()
    ref = json.loads(GOLDEN.read_text())
    now_versions = golden.versions()
    if now_versions != ref["versions"]:
        pytest.skip(f"library versions {now_versions} differ from those the digests were "
                    f"recorded with {ref['versions']}; rerun pipelines/golden_outputs.py --write")
    now = golden.compute(golden.data_dir())
    assert golden.differences(ref["outputs"], now["outputs"]) == []
