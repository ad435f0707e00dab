"""The packages' modules import each other in one direction: no circles, lazy imports included.

A circle (a imports b, b imports a, at the top or inside a function) means neither
module can be read, tested or reused without the other. Each package's graph is
read from the source (every ``import`` statement, wherever it is), so a lazy import
that only hides a circle from Python still counts here.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (``from . import x`` names the module x)."""
    paths = {_module(p): p for p in (ROOT / package).rglob("*.py") if "samples" not in p.parts}
    graph = {name: set() for name in paths}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in paths and t != name and not name.startswith(t + ".")
                            and t != package}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("package", ["autograder", "instructors"])
def test_no_module_imports_one_that_imports_it_back(package):
    assert circles(import_graph(package)) == []


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph("autograder")
    assert "autograder.untrusted.sandbox" in graph["autograder.untrusted.zygote_process"]  # inside a function
    assert "autograder.cells" in graph["autograder.feedback.summary"]                        # from ..cells
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_an_assignment_is_its_own_module_and_the_engine_never_imports_one():
    """A third assignment adds a module and a notebook; the shared engine does not change."""
    graph = import_graph("autograder")
    engine = {"autograder.registry", "autograder.stats", "autograder.subject", "autograder.watch",
              "autograder.device", "autograder.report", "autograder.cells"}
    assignments = {"autograder.checks", "autograder.dropout_family", "autograder.fixed_models", "autograder.network",
                   "autograder.overfitting", "autograder.pipeline", "autograder.quiz"}
    for module in engine:
        assert not graph[module] & assignments, (module, graph[module] & assignments)
