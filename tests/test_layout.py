"""No import loop among the project's modules.

import-linter (`make imports`, contracts in pyproject.toml) checks which package may import which;
its contract types cannot say "no loop between any two modules", so this test does. It reads every
import statement with `ast`: at module level, inside functions, and under `if TYPE_CHECKING:`. A
function-level import only postpones a loop to the first call, and a TYPE_CHECKING one still ties
the two modules together for a reader, so both count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")


def project_modules() -> dict[str, Path]:
    """Module name → file, for bot/, handlers/ and storage/ (Alembic's migration scripts are
    loaded by Alembic as files, not imported as modules)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts).removesuffix(".__init__")
            found[name] = path
    return found


def imported_names(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every name an import statement in the module brings in, with its line: `from a import b`
    yields `a` and `a.b` (b may be a module or an attribute; the caller decides)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    """importer → {imported project module: first line importing it}."""
    modules = project_modules()
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for imported, line in imported_names(name, path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                graph[name].setdefault(imported, line)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; each group of two or more modules holds a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def shortest_loop(graph: dict[str, dict[str, int]], group: list[str]) -> list[str]:
    """A shortest loop through the group's first module, as `a → b → a`."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in graph[node]:
            if target not in members:
                continue
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no loop through {start} in {group}")


def describe(graph: dict[str, dict[str, int]], loop: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]}) → {b}" for a, b in pairwise(loop)]
    return "\n    ".join(steps)


def test_the_graph_sees_function_level_and_type_checking_imports() -> None:
    graph = import_graph()
    # bot.config.loading imports the adapter registry inside a function, and
    # bot.config.environment imports storage.db under TYPE_CHECKING.
    assert "bot.delivery.adapters" in graph["bot.config.loading"]
    assert "storage.db" in graph["bot.config.environment"]


def test_no_import_loop_among_the_project_s_modules() -> None:
    graph = import_graph()
    loops = [shortest_loop(graph, group) for group in strongly_connected(graph)]
    assert not loops, (
        "import loops (each import statement counts, wherever it stands):\n"
        + "\n".join(f"  {' → '.join(loop)}\n    {describe(graph, loop)}" for loop in loops)
    )


def test_the_import_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml), so that `make test` checks them as `make
    imports` does: storage imports nothing from bot or handlers, bot.core nothing else from the
    project, bot.slack_ui neither intake, delivery nor jobs, handlers no storage."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout
