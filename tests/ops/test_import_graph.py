"""The floors of the code, kept by reading the imports (ast only, nothing is imported).

Top: views, management commands, Celery tasks. Middle: the use cases. Bottom: models, aws.py,
records.py. The rules: no import circle among the project's modules (deferred imports inside
functions count too); views and commands never reach AWS themselves (no boto3, botocore or
invocations.aws: they call a use case); and nothing imports invocations.tasks (tasks are sent
by name through invocations.ops.sending), so the use cases never import the layer above them."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["dashboard", "invocations", "sandbox"]
AWS_LIBRARIES = ("boto3", "botocore")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, at module level or inside a function, absolute names."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            # `from invocations import audit` imports the module invocations.access.audit.
            found.update(
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES
            )
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _project_edges(name: str) -> set[str]:
    return {target for target in IMPORTS[name] if target in MODULES and target != name}


def _circles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in _project_edges(node):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(MODULES):
        if name not in index:
            visit(name)
    return circles


def _is_top_floor(name: str) -> bool:
    return name.startswith(("invocations.views", "invocations.management.commands"))


def test_the_reader_sees_the_project_modules():
    # Guards the test itself: if it read nothing, every rule below would pass.
    assert {"invocations.aws", "invocations.tasks", "invocations.views.queues"} <= set(MODULES)
    assert "invocations.aws" in IMPORTS["invocations.invoking.inventory"]
    assert "invocations.ingest.queues" in IMPORTS["invocations.views.queues"]


def test_there_is_no_import_circle():
    assert _circles() == []


def test_views_and_commands_never_reach_aws_themselves():
    offenders = {
        name: sorted(
            target
            for target in IMPORTS[name]
            if target == "invocations.aws" or target.split(".")[0] in AWS_LIBRARIES
        )
        for name in MODULES
        if _is_top_floor(name)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_nothing_imports_the_tasks_module():
    importers = sorted(name for name in MODULES if "invocations.tasks" in IMPORTS[name])
    assert importers == []


def test_a_circle_is_caught(monkeypatch):
    # The detector itself: two modules that import each other are reported.
    monkeypatch.setitem(
        IMPORTS, "invocations.aws", IMPORTS["invocations.aws"] | {"invocations.ingest.queues"}
    )
    assert any({"invocations.aws", "invocations.ingest.queues"} <= set(c) for c in _circles())
