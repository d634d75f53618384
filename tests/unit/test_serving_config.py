"""Settings flow one way, read from the source (ast): gunicorn.conf.py only assigns settings
and wires hooks (the code lives in ``serving/``), no module writes the environment but the
one prometheus_client reads, and no part of the app rewrites ``app.config`` after the loader.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "gunicorn.conf.py"
# Everything the project runs: the app's packages, the entry points, the benchmarks.
SOURCES = (
    "api",
    "core",
    "extensions",
    "models",
    "services",
    "serving",
    "settings",
    "bench",
    "swagger_export",
)
ENTRY_POINTS = ("gunicorn.conf.py", "run.py", "factory.py", "commands.py")
# prometheus_client's interface is that variable, read in each process (serving/metrics_dir.py).
ENVIRONMENT_WRITES = {"serving/metrics_dir.py": 1}
ENVIRON_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
CONFIG_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "from_mapping", "from_object"}


def python_files() -> list[Path]:
    files = [p for package in SOURCES for p in sorted((ROOT / package).rglob("*.py"))]
    return files + [ROOT / name for name in ENTRY_POINTS]


def is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign | ast.Delete):
        return list(node.targets)
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []


def environment_writes(tree: ast.AST) -> int:
    """``os.environ[k] = v``, ``del os.environ[k]``, ``os.environ.update(...)``, ``os.putenv``...;
    ``from os import environ`` counts as one (its writes would hide from the rest)."""
    count = 0
    for node in ast.walk(tree):
        count += sum(isinstance(t, ast.Subscript) and is_os_environ(t.value) for t in targets(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if is_os_environ(func.value) and func.attr in ENVIRON_MUTATORS:
                count += 1
            elif (
                isinstance(func.value, ast.Name)
                and func.value.id == "os"
                and func.attr in ("putenv", "unsetenv")
            ):
                count += 1
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            count += any(alias.name == "environ" for alias in node.names)
    return count


def config_writes(tree: ast.AST) -> list[int]:
    """Lines that assign into, delete from or update a ``config`` mapping (``app.config``,
    ``current_app.config``, or a name ``config`` bound to one)."""

    def is_config(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "config") or (
            isinstance(node, ast.Name) and node.id == "config"
        )

    lines = []
    for node in ast.walk(tree):
        if any(isinstance(t, ast.Subscript) and is_config(t.value) for t in targets(node)):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if is_config(node.func.value) and node.func.attr in CONFIG_MUTATORS:
                lines.append(node.lineno)
    return lines


def test_gunicorn_conf_only_assigns_settings_and_wires_hooks():
    tree = ast.parse(CONF.read_text(encoding="utf-8"))
    docstring, *body = tree.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    wrong = [
        f"line {node.lineno}: {type(node).__name__}"
        for node in body
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign)
    ]
    assert not wrong, f"gunicorn.conf.py holds more than assignments (move it to serving/): {wrong}"
    assert not any(isinstance(node, ast.Lambda | ast.FunctionDef | ast.ClassDef) for node in ast.walk(tree))
    assert environment_writes(tree) == 0
    assert len(CONF.read_text(encoding="utf-8").splitlines()) <= 80


def test_every_public_name_of_gunicorn_conf_is_a_gunicorn_setting():
    # gunicorn reads every module-level name that matches a setting: an import named like one
    # would be taken as its value, and a misspelt setting would be silently ignored.
    from gunicorn.config import Config

    settings = set(Config().settings)
    tree = ast.parse(CONF.read_text(encoding="utf-8"))
    imported = {
        (alias.asname or alias.name).split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assigned = {
        target.id
        for node in tree.body
        for target in targets(node)
        if isinstance(target, ast.Name) and not target.id.startswith("_")
    }
    assert not imported & settings
    assert assigned <= settings, sorted(assigned - settings)
    assert {"bind", "workers", "worker_class", "logconfig_dict", "when_ready"} <= assigned


def test_every_server_hook_is_wired_from_serving_hooks():
    tree = ast.parse(CONF.read_text(encoding="utf-8"))
    wired = {
        node.targets[0].id: node.value.attr
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "_hooks"
    }
    hooks = {
        "on_starting",
        "when_ready",
        "post_fork",
        "post_worker_init",
        "pre_request",
        "child_exit",
        "on_exit",
    }
    assert wired == {name: name for name in hooks}


def test_no_module_writes_the_environment_but_the_metrics_directory():
    writes = {}
    for path in python_files():
        count = environment_writes(ast.parse(path.read_text(encoding="utf-8")))
        if count:
            writes[path.relative_to(ROOT).as_posix()] = count
    assert writes == ENVIRONMENT_WRITES


def test_nothing_after_the_loader_rewrites_app_config():
    writes = {}
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("settings/", "bench/")) or relative == "factory.py":
            continue  # the loader itself; the factory sets Flask-RESTX's JSON options
        lines = config_writes(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            writes[relative] = lines
    assert not writes, f"settings rewritten after the loader (derive them in settings.derived): {writes}"


def test_the_walks_see_writes():
    # Guards the tests above: a walk that found nothing would pass everything.
    config = ast.parse(
        "def init_app(app):\n"
        "    app.config['A'] = 1\n"
        "    config = app.config\n"
        "    config['B'] = 2\n"
        "    current_app.config.setdefault('C', 3)\n"
    )
    assert config_writes(config) == [2, 4, 5]
    environment = ast.parse(
        "import os\nos.environ['A'] = '1'\nos.environ.update(B='2')\nos.putenv('C', '3')\n"
    )
    assert environment_writes(environment) == 3
    assert environment_writes(ast.parse("environ['wdapi.draining'] = True\nos.environ.get('A')\n")) == 0
