"""The layers: api -> services -> models -> extensions -> settings -> core, read from the
imports (ast). A layer imports only layers to its right; ``core`` (the domain errors, the
URL paths, Flask's context objects) imports nothing of the project; no package imports
itself in a cycle. Inside ``api``, the resources use the contract and the pipeline, never
the reverse.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("api", "services", "models", "extensions", "settings", "core")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute; ``from a import b`` yields ``a`` and ``a.b``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(package: str) -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted((ROOT / package).rglob("*.py"))}


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in LAYERS else None


ALL = {name: deps for package in LAYERS for name, deps in modules(package).items()}


@pytest.mark.parametrize("module", sorted(ALL))
def test_a_layer_imports_only_layers_to_its_right(module):
    own = LAYERS.index(layer_of(module))
    allowed = set(LAYERS[own:])
    wrong = sorted(dep for dep in ALL[module] if layer_of(dep) and layer_of(dep) not in allowed)
    assert not wrong, f"{module} imports {wrong}, left of its layer"


def test_core_imports_nothing_of_the_project():
    core = [name for name in ALL if layer_of(name) == "core"]
    assert {"core", "core.errors", "core.paths", "core.context"} <= set(core)
    for name in core:
        assert not {dep for dep in ALL[name] if layer_of(dep)}, name


@pytest.mark.parametrize("kind", ["contract", "pipeline"])
def test_the_api_machinery_never_imports_a_resource(kind):
    wrong = {
        module: sorted(dep for dep in deps if dep == "api" or dep.startswith("api.resources"))
        for module, deps in ALL.items()
        if module.startswith(f"api.{kind}")
    }
    assert not {m: deps for m, deps in wrong.items() if deps}


def test_no_import_cycles_between_modules():
    graph = {m: {d for d in deps if d in ALL} for m, deps in ALL.items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycle = path[path.index(dep) :] + [dep] if dep in path else [node, dep]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_walk_sees_real_imports():
    # Guards the test itself: a parser that found nothing would pass everything.
    assert "extensions" in ALL["services.cache"] and "settings" in ALL["extensions.redis_store"]
