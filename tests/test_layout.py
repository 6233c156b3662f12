"""The folder layout of the README holds: no import cycle, and no package imports a higher layer.

Layers, lowest first (README, "Folders"): config < ingest, sample_data < quality, readers
< alerts, tools < orchestration < cli. A package may import its own modules and any package of a
lower layer; `readers` (read-only access for people) imports nothing from Dagster or the
orchestration. Every import counts, including those inside functions, as a lazy import is
still a dependency. The test parses the sources and imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LAYERS = {
    "config": 0,
    "ingest": 1,
    "sample_data": 1,
    "quality": 2,
    "readers": 2,
    "alerts": 3,
    "tools": 3,
    "orchestration": 4,
    "cli": 5,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Every project module and the project modules (or packages) it imports."""
    graph: dict[str, set[str]] = {}
    for package in LAYERS:
        for path in sorted((REPO / package).rglob("*.py")):
            module = _module_name(path)
            targets: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                targets.update(names)
            graph[module] = targets
    return graph


def _project_targets(graph: dict[str, set[str]], module: str) -> set[str]:
    """The imported names that are project modules (longest module prefix of each name)."""
    found = set()
    for name in graph[module]:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in graph:
                if candidate != module:
                    found.add(candidate)
                break
    return found


def test_the_packages_of_the_readme_exist():
    graph = _imports()
    assert {module.split(".")[0] for module in graph} == set(LAYERS)
    readme = (REPO / "README.md").read_text()
    for package in LAYERS:
        assert f"| `{package}/` |" in readme, f"README's folder map misses {package}/"


def test_no_import_goes_to_a_higher_layer_or_across_one():
    graph = _imports()
    wrong = []
    for module in graph:
        source = module.split(".")[0]
        for target in _project_targets(graph, module):
            target_package = target.split(".")[0]
            if target_package == source:
                continue
            if LAYERS[target_package] >= LAYERS[source]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_readers_import_nothing_from_dagster():
    graph = _imports()
    wrong = [
        f"{module} imports {name}"
        for module, names in graph.items()
        if module.split(".")[0] == "readers"
        for name in names
        if name.split(".")[0] in {"dagster", "dagster_dbt", "dagster_webserver", "orchestration"}
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = _imports()
    edges = {module: _project_targets(graph, module) for module in graph}
    # A package's __init__ is imported with any of its modules; a module importing its own
    # package's __init__ is no cycle of concern.
    for module, targets in edges.items():
        edges[module] = {t for t in targets if not module.startswith(t + ".")}
    visiting, done, cycles = set(), set(), []

    def visit(module: str, path: list[str]) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append(path[path.index(module) :] + [module])
            return
        visiting.add(module)
        for target in sorted(edges[module]):
            visit(target, path + [target])
        visiting.discard(module)
        done.add(module)

    for module in sorted(edges):
        visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _declared() -> tuple[set[str], set[str]]:
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(specs):
        return {
            re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in specs
        }

    return names(project["dependencies"]), names(project["optional-dependencies"]["dev"])


def _third_party_imports(folders: list[str]) -> dict[str, set[str]]:
    import sys

    local = (
        set(LAYERS)
        | {p.stem for folder in ("tests", "benchmarks") for p in (REPO / folder).glob("*.py")}
        | {"benchmarks"}
    )
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    tops = [alias.name.split(".")[0] for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    if top not in local and top not in sys.stdlib_module_names:
                        found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_imported_package_is_declared():
    from importlib.metadata import packages_distributions

    runtime, dev = _declared()
    distributions = packages_distributions()

    def undeclared(imports: dict[str, set[str]], allowed: set[str]) -> list[str]:
        missing = []
        for top, files in sorted(imports.items()):
            dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
            if not dists & allowed:
                missing.append(f"{top} ({', '.join(sorted(dists))}) in {sorted(files)[0]}")
        return missing

    # tools/ holds developer tools (docs generator, screenshots): dev dependencies may serve it.
    shipped = [package for package in LAYERS if package != "tools"]
    assert not undeclared(_third_party_imports(shipped), runtime), "runtime imports"
    assert not undeclared(_third_party_imports(["tests", "benchmarks", "tools"]), runtime | dev), (
        "dev imports"
    )


def test_no_runtime_dependency_is_used_only_by_tests():
    runtime, _ = _declared()
    from importlib.metadata import packages_distributions

    distributions = packages_distributions()
    used = {
        d.lower().replace("_", "-")
        for top in _third_party_imports([package for package in LAYERS if package != "tools"])
        for d in distributions.get(top, [top])
    }
    # Installed for what they run, not imported: the UI server and dbt's DuckDB adapter.
    run_not_imported = {"dagster-webserver", "dbt-core", "dbt-duckdb"}
    assert runtime - used - run_not_imported == set()


def test_the_project_cites_only_its_own_metric_reference():
    # The metric definitions and invariants are docs/metrics.md's; no file points at a
    # design note outside the repository.
    import subprocess

    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = [
        name
        for name in files
        if name.endswith((".py", ".sql", ".yml", ".md"))
        and name != "tests/test_layout.py"
        and "METRICS.md" in (REPO / name).read_text(errors="ignore")
    ]
    assert citing == [], citing


def test_the_time_zone_check_lives_in_the_settings_only():
    checking = sorted(
        str(path.relative_to(REPO))
        for package in LAYERS
        for path in (REPO / package).rglob("*.py")
        if "ZoneInfoNotFoundError" in path.read_text()
    )
    assert checking == ["config/settings.py"]
