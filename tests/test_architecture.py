"""The house rules of the source tree, checked on every test run.

- no module over MAX_MODULE_LINES lines, no function body over MAX_FUNCTION_LINES lines;
- no import cycle between modules (imports inside functions and under TYPE_CHECKING count);
- data flows one way: a gazeprep module never imports from a later stage (STAGES), and
  gradseg takes nothing from gazeprep but its contract package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gazeprep", "gradseg")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

#: gazeprep's stages in data-flow order: a module may import its own stage and earlier ones.
STAGES = ("contract", "errors", "_numba", "jobs", "limits", "outputs", "read",
          "detect", "tracks", "quality", "ingest", "render", "inspect", "export", "simulate",
          "api", "commands", "cli")
#: What gradseg may import from gazeprep.
GRADSEG_MAY_IMPORT = ("gazeprep.contract",)


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _imports(path: Path, name: str, is_pkg: bool) -> set[str]:
    """Every module name imported anywhere in the file (absolute, relative resolved)."""
    found: set[str] = set()
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = _imports(path, name, path.name == "__init__.py")
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "gazeprep" or len(parts) < 2:
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else None


def test_module_length():
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    assert not {n: k for n, k in long.items() if k > MAX_MODULE_LINES}


def test_function_length():
    too_long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                if (body and isinstance(body[0], ast.Expr)
                        and isinstance(getattr(body[0], "value", None), ast.Constant)):
                    body = body[1:]  # the docstring
                if body:
                    n = body[-1].end_lineno - body[0].lineno + 1
                    if n > MAX_FUNCTION_LINES:
                        too_long.append(f"{name}.{node.name}: {n} lines")
    assert not too_long


def test_no_import_cycles():
    graph = _graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    # A package importing its own submodules (re-exports, registries) is not a cycle of concern
    # when the submodules do not import the package back; Tarjan reports it only if they do.
    assert not cycles


def test_gazeprep_stages_flow_one_way():
    wrong = []
    for mod, deps in _graph().items():
        s = _stage(mod)
        for d in deps:
            t = _stage(d)
            if s is not None and t is not None and t > s:
                wrong.append(f"{mod} imports later stage {d}")
    assert not wrong


def test_every_gazeprep_module_has_a_stage():
    assert not [m for m in _modules() if m.startswith("gazeprep.") and _stage(m) is None]


def test_gradseg_takes_only_the_contract():
    wrong = [f"{m} imports {d}" for m, deps in _graph().items() if m.startswith("gradseg")
             for d in deps if d.startswith("gazeprep")
             and not d.startswith(GRADSEG_MAY_IMPORT)]
    assert not wrong


def test_contract_imports_nothing_else():
    wrong = [f"{m} imports {d}" for m, deps in _graph().items()
             if m.startswith("gazeprep.contract") for d in deps
             if not d.startswith("gazeprep.contract")]
    assert not wrong


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-q"]))
