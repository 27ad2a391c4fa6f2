"""The house rules, checked: no import cycles, data flows one way between rooms, every
module declares ``__all__``, no module over ~500 lines, and imports inside functions only
where a heavy import is deferred on purpose (commented)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "roofline"
MAX_LINES = 520

#: rooms, lowest first: a module may import only from its own room or lower ones
RANKS = {
    "roofline.errors": 0, "roofline.dtypes": 0, "roofline.units": 0, "roofline.graph": 1,
    "roofline.hardware": 2,
    "roofline.latency": 3, "roofline.models": 4, "roofline.cache": 5, "roofline.analysis": 5,
    "roofline.models.fidelity": 6, "roofline.calibration": 6, "roofline.survey": 6,
    "roofline.runtimes": 6, "roofline.comparison": 6, "roofline.report": 6,
    "roofline.ridge_sweep": 6, "roofline.render": 7, "roofline.plotting": 8, "roofline.plots": 8, "roofline.cli": 9,
    "roofline.__main__": 9,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def rank(module: str) -> int | None:
    best = None
    for prefix, r in RANKS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, r)
    return None if best is None else best[1]


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(imported roofline module, node, inside a function) for every runtime import."""
    tree = ast.parse(path.read_text())
    out: list[tuple[str, ast.AST, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                out.extend((a.name, child, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for a in child.names:
                    sub = f"{child.module}.{a.name}"
                    out.append((sub if sub in MODULES else child.module, child, in_function))
            visit(child, inner)

    visit(tree, False)
    return out


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, p in MODULES.items():
        for target, _, _ in imports(p):
            if target in MODULES and target != m and target != "roofline":
                edges[m].add(target)
    return edges


def test_no_import_cycles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
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

    for v in edges:
        if v not in index:
            strong(v)
    assert not cycles, cycles


def test_data_flows_one_way():
    wrong = []
    for m, targets in graph().items():
        for t in targets:
            rm, rt = rank(m), rank(t)
            if rm is not None and rt is not None and rt > rm:
                wrong.append(f"{m} (room {rm}) imports {t} (room {rt})")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_declares_all_and_is_small(module: str):
    path = MODULES[module]
    text = path.read_text()
    tree = ast.parse(text)
    names = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
             for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
             if isinstance(t, ast.Name)}
    if module != "roofline.__main__":
        assert "__all__" in names, f"{module} declares no __all__"
    assert len(text.splitlines()) <= MAX_LINES, f"{module}: {len(text.splitlines())} lines"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_inner_imports_are_deferred_on_purpose(module: str):
    """Every import inside a function carries a '# deferred: why' comment: on its line, or
    above the run of consecutive import statements it belongs to."""
    path = MODULES[module]
    lines = path.read_text().splitlines()
    inner = sorted({(node.lineno, node.end_lineno, target)
                    for target, node, is_inner in imports(path) if is_inner})
    covered = {i for start, end, _ in inner for i in range(start, end + 1)}
    bare = []
    for start, end, _ in inner:
        top = start
        while top - 1 in covered:          # climb the run of consecutive import statements
            top -= 1
        commented = any("deferred" in lines[i - 1] for i in range(start, end + 1)) or \
            (top >= 2 and "deferred" in lines[top - 2])
        if not commented:
            bare.append(f"{path.name}:{start}")
    assert not bare, "inner imports without a '# deferred: why' comment:\n" + "\n".join(
        sorted(set(bare)))
