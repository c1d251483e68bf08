"""The rules of docs/delivery.md, checked on the source: arrows point inward only
(domain ← ports ← services ← api and handlers; adapters implement ports), only the store names
a query (and the local stack's store each tool query), and importing app.py loads no adapter's
library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests import shipped

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
STORE = "chalicelib.adapters.postgres"
QUERY_LOADER = "chalicelib.adapters.sql_files"
TOOL_STORE = "scripts.devstack.store"

# What each part of chalicelib may import from chalicelib (itself always).
MAY_IMPORT: dict[str, set[str]] = {
    "chalicelib.domain": set(),
    "chalicelib.ports": {"chalicelib.domain"},
    "chalicelib.settings": {"chalicelib.domain"},
    "chalicelib.observability": set(),
    "chalicelib.adapters": {"chalicelib.domain", "chalicelib.ports", "chalicelib.settings"},
    "chalicelib.services": {"chalicelib.domain", "chalicelib.ports", "chalicelib.observability"},
    "chalicelib.bootstrap": {
        "chalicelib.domain", "chalicelib.ports", "chalicelib.settings", "chalicelib.adapters",
        "chalicelib.services",
    },
    "chalicelib.api": {
        "chalicelib.domain", "chalicelib.ports", "chalicelib.settings", "chalicelib.services",
        "chalicelib.bootstrap",
    },
    "chalicelib.handlers": {"chalicelib.ports", "chalicelib.services", "chalicelib.bootstrap"},
    "chalicelib.deploy": {"chalicelib.adapters", "chalicelib.settings"},
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    for part in sorted(MAY_IMPORT, key=len, reverse=True):
        if module == part or module.startswith(part + "."):
            return part
    raise AssertionError(f"{module} is in no layer of docs/delivery.md")


def imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def test_every_import_in_chalicelib_points_inward() -> None:
    wrong = []
    for path in sources(CHALICELIB):
        module = module_name(path)
        if module == "chalicelib":
            continue
        part = part_of(module)
        allowed = MAY_IMPORT[part] | {part}
        for imported in imports(ast.parse(path.read_text())):
            if imported.startswith("chalicelib.") and part_of(imported) not in allowed:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_the_domain_imports_only_the_standard_library() -> None:
    for path in sources(CHALICELIB / "domain"):
        for imported in imports(ast.parse(path.read_text())):
            top = imported.split(".")[0]
            assert top in sys.stdlib_module_names or imported.startswith("chalicelib.domain"), (
                f"{module_name(path)} imports {imported}"
            )


def query_names() -> set[str]:
    from chalicelib.adapters.sql_files import queries

    return set(queries())


def tool_query_names() -> set[str]:
    from scripts.devstack.store import tool_queries

    return set(tool_queries())


def test_no_module_but_the_store_names_a_query() -> None:
    names = query_names() | tool_query_names()
    wrong = []
    for path in sources(CHALICELIB) + sources(ROOT / "scripts") + [ROOT / "app.py"]:
        module = module_name(path)
        if module in (STORE, QUERY_LOADER, TOOL_STORE):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in ("queries", "parse_named_queries"):
                wrong.append(f"{module} loads queries itself")
            elif isinstance(node, ast.Subscript) and _literal(node.slice) in names:
                wrong.append(f"{module} names the query {_literal(node.slice)!r}")
            elif isinstance(node, ast.Call) and node.args and _literal(node.args[0]) in names:
                wrong.append(f"{module} names the query {_literal(node.args[0])!r}")
    assert wrong == []
    scripts_sql = [p.relative_to(ROOT).as_posix() for p in (ROOT / "scripts").rglob("*.sql")]
    assert scripts_sql == ["scripts/devstack/tools.sql"], "the scripts' queries live behind their store"


def _literal(node: ast.AST) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def test_each_query_is_used_by_the_store() -> None:
    text = (CHALICELIB / "adapters" / "postgres.py").read_text()
    unused = sorted(name for name in query_names() if f'"{name}"' not in text)
    assert unused == []
    tools = (ROOT / "scripts" / "devstack" / "store.py").read_text()
    assert sorted(name for name in tool_query_names() if f'"{name}"' not in tools) == []


def test_the_apps_store_holds_what_the_app_runs_and_no_tool() -> None:
    """Raw SQL and the tools' queries are the local stack's (scripts/devstack/store.py)."""
    from chalicelib.adapters.postgres import Store

    assert [name for name in ("one", "all") if hasattr(Store, name)] == []
    assert query_names() & tool_query_names() == set()
    assert not (CHALICELIB / "sql" / "queries" / "tools.sql").exists()


def test_routes_call_the_services_the_container_built() -> None:
    """One wiring style: app.py takes each route's service from the container, once, and
    chalicelib/api calls it; only the authorizer (no service: the verifier and settings) reads
    the container itself."""
    for path in sources(CHALICELIB / "api"):
        if module_name(path) != "chalicelib.api.auth":
            assert "chalicelib.bootstrap" not in imports(ast.parse(path.read_text())), module_name(path)
    tree = ast.parse((ROOT / "app.py").read_text())
    routes = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Call) and ast.unparse(d.func) == "app.route" for d in node.decorator_list)
    ]
    assert len(routes) > 20
    for route in routes:
        accesses = [
            n for n in ast.walk(route) if isinstance(n, ast.Call) and ast.unparse(n.func) == "container"
        ]
        # The document and the console's files are served from the package: no service.
        expected = 0 if route.name in {"openapi_document", "console_page", "console_asset"} else 1
        assert len(accesses) == expected, route.name


def test_importing_the_app_loads_no_database_aws_or_metrics_library_and_no_pipeline() -> None:
    probe = (
        "import sys, app; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('psycopg', 'psycopg_pool', 'boto3', 'botocore', 'pynamodb', 'aws_lambda_powertools')"
        " or m in ('chalicelib.services.worker', 'chalicelib.services.sweeper', 'chalicelib.observability')"
        " or (m.startswith('chalicelib.adapters.') and m != 'chalicelib.adapters.clock'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.split() == []


def test_no_script_shadows_a_standard_library_module() -> None:
    """Run as a file, a script's folder heads sys.path (scripts/token.py once hid `token`)."""
    names = {p.stem for p in (ROOT / "scripts").rglob("*.py")}
    assert names & sys.stdlib_module_names == set()


def test_no_twin_test_clock_or_local_stack_code_in_chalicelib_or_app() -> None:
    # tests/infra/test_build.py checks the same on the package `make package` builds.
    app_sources = {str(p.relative_to(ROOT)): p.read_text() for p in [*sources(CHALICELIB), ROOT / "app.py"]}
    assert shipped.test_only_code(app_sources) == []
