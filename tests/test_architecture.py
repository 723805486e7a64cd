"""The package's shape: no import circle (counting imports inside functions), small modules,
and one home for every check id."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "backupcheck"
MAX_MODULE_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """Module -> package modules it imports, from every import statement anywhere in it."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_cycle_finder_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_counting_imports_in_functions() -> None:
    graph = import_graph()
    # a parent package importing its own submodule is a circle only when the child imports
    # the parent back; the walk above sees both edges, so nothing is exempt
    assert find_cycle(graph) == []


def test_every_module_is_small_enough_to_read() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert too_big == {}


def test_every_module_says_what_it_is_for() -> None:
    missing = [name for name, path in _modules().items()
               if path.read_text().strip()
               and ast.get_docstring(ast.parse(path.read_text())) is None]
    assert missing == []


def test_every_registered_check_of_a_storage_kind_has_its_judge() -> None:
    from backupcheck.checks import restic, s3
    from backupcheck.checks.registry import CHECKS
    from backupcheck.kinds import KINDS

    assert s3.JUDGES.missing() == () and restic.JUDGES.missing() == ()
    judged = set(s3.JUDGES.ids()) | set(restic.JUDGES.ids())
    assert judged == {c.id for c in CHECKS if c.kind in ("s3", "restic")}
    assert set(KINDS) == {"s3", "restic"}
    assert all(c.hint and c.plain and c.failed for c in CHECKS)


def test_a_judge_for_an_unregistered_id_is_refused() -> None:
    import pytest

    from backupcheck.checks.common import Judges

    with pytest.raises(KeyError, match="unregistered check id"):
        Judges("s3").judge("s3.made_up")
    with pytest.raises(ValueError, match="not a restic check"):
        Judges("restic").judge("s3.versioning")


def test_readme_and_docs_link_only_to_files_inside_the_repository() -> None:
    import re

    root = PACKAGE.parent
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)", doc.read_text()):
            if re.match(r"^[a-z]+://", target):
                continue
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(root) and resolved.exists(), (doc.name, target)
