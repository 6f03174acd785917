"""The package's shape, read from its source with :mod:`ast` (nothing is imported).

Every ``import`` and ``from ... import`` in ``pinndd/`` counts, at module level and inside
functions alike (a lazy import that dodges a circle is still a circle). The checks:

- no import circle among pinndd's modules;
- no private name (``_x``) imported from another module;
- the one-way flow problem -> method -> point set -> trainer -> evaluator -> report: the training
  engine (``pinndd.engine``) imports neither a method, a teacher nor an evaluator, and no method
  module imports an evaluator (``pinndd.eval``) or a report (plots, tables, the command line);
- no module over :data:`MAX_LINES` lines (:data:`LONG` would list justified exceptions with
  the most lines each may have; it is empty).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pinndd"

#: The longest a module may be.
MAX_LINES = 350

#: Modules allowed over :data:`MAX_LINES`, with the most lines each may have (so they can only
#: shrink). None today: keep it that way by splitting a module by concept when it grows.
LONG: dict[str, int] = {}

#: What the training engine may import besides itself: the problem and what to train on.
ENGINE_MAY_IMPORT = ("pinndd.errors", "pinndd.cache", "pinndd.domain", "pinndd.conditions", "pinndd.shifts",
                     "pinndd.problem", "pinndd.labels", "pinndd.pointset", "pinndd.budget", "pinndd.cost")

#: Evaluators and reports: no method imports these.
EVALUATORS = ("pinndd.eval", "pinndd.plotting", "pinndd.sweep", "pinndd.rows", "pinndd.cli", "pinndd.manifest")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` for every pinndd import in one file: ``from a
    import b`` where ``a.b`` is a module gives ``(a, None)`` and ``(a.b, None)``, otherwise
    ``(a, b)``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "pinndd"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "pinndd":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:  # ``from pkg import module``: runs pkg's __init__ too
                    out += [(target, None, node.lineno), (sub, None, node.lineno)]
                else:
                    out.append((target, a.name, node.lineno))
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {t for t, _, _ in imports(m, p, known) if t in known and t != m} for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_cycles():
    """The check can fail: a planted circle (and a longer one through a third module) is found."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_reader_sees_lazy_and_relative_imports(tmp_path):
    """Function-level and relative imports are read; ``from pkg import module`` is an edge to the module."""
    src = "from .b import x\ndef f():\n    from ..c import _y\n    from . import b\n"
    p = tmp_path / "a.py"
    p.write_text(src)
    got = imports("pinndd.sub.a", p, {"pinndd.sub", "pinndd.sub.a", "pinndd.sub.b", "pinndd.c"})
    assert got == [("pinndd.sub.b", "x", 1), ("pinndd.c", "_y", 3), ("pinndd.sub", None, 4), ("pinndd.sub.b", None, 4)]


def test_no_import_circle():
    found = cycles(graph())
    assert not found, f"import circles among pinndd modules (module-level and lazy imports count): {found}"


def test_no_private_name_crosses_modules():
    mods = modules()
    known = set(mods)
    bad = [f"{m}:{line} imports {name} from {target}"
           for m, p in mods.items() for target, name, line in imports(m, p, known)
           if name is not None and name.startswith("_") and not name.startswith("__")]
    assert not bad, "private names imported across modules (make them public or move them):\n" + "\n".join(bad)


def test_engine_imports_no_method_teacher_or_evaluator():
    bad = [f"{m} imports {t}" for m, targets in graph().items() if m.startswith("pinndd.engine")
           for t in targets if not (t.startswith("pinndd.engine") or t in ENGINE_MAY_IMPORT)]
    assert not bad, "the training engine sits below methods, teachers and evaluators:\n" + "\n".join(bad)


def test_no_method_imports_an_evaluator():
    bad = [f"{m} imports {t}" for m, targets in graph().items() if m.startswith("pinndd.methods")
           for t in targets if any(t == e or t.startswith(e + ".") for e in EVALUATORS)]
    assert not bad, "methods never import an evaluator or a report:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_length(name):
    n = len(modules()[name].read_text().splitlines())
    limit = LONG.get(name, MAX_LINES)
    assert n <= limit, f"{name} has {n} lines (limit {limit}); split it by concept"


def test_long_list_is_current():
    """Every listed exception exists and still needs to be one (shrink the list as modules shrink)."""
    mods = modules()
    stale = [m for m in LONG if m not in mods or len(mods[m].read_text().splitlines()) <= MAX_LINES]
    assert not stale, f"remove from LONG (gone or no longer over {MAX_LINES} lines): {stale}"
