"""Which source files decide a step's result, and a digest of them (each rule's ``code`` param, so Snakemake reruns
a step when the code it runs changes: its rerun trigger ``code`` watches the step script alone).

The files are the step script's import closure inside the project: every module of the project's packages that
it imports, directly or through other modules, at module level or inside a function, with the ``__init__.py`` of
each package on the way (they run on import).  Read from the source with ``ast``: nothing is imported.  The digest
is of their content and their paths relative to the project, so moving the checkout or touching a file reruns
nothing, and editing a module reruns exactly the steps that import it.
"""

import ast
import functools
import hashlib
from pathlib import Path

PACKAGES = ("sdt", "models")  # the project's importable packages


def _imported_names(path):
    """Dotted names a Python file imports (``from a.b import c`` gives a.b and a.b.c: c may be a module)."""
    stat = Path(path).stat()
    return _parse_imports(str(path), stat.st_mtime_ns, stat.st_size)


@functools.cache
def _parse_imports(path, mtime_ns, size):  # keyed by mtime and size too: an edited file is parsed again
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text(), filename=path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return tuple(names)


def _module_file(root, dotted):
    """The file of module ``dotted`` under ``root`` (a module or a package's __init__), or None."""
    if dotted.split(".")[0] not in PACKAGES:
        return None
    base = Path(root).joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_closure(script, root, modules=()):
    """Sorted paths of ``script`` and of every project module it imports, transitively; ``modules``: dotted names
    of further modules that the step loads by name (their closure is added too)."""
    todo = [Path(script), *filter(None, (_module_file(root, m) for m in modules))]
    seen = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_names(path):
            parts = name.split(".")
            todo += filter(None, (_module_file(root, ".".join(parts[:k])) for k in range(1, len(parts) + 1)))
    return sorted(seen)


def code_digest(script, root, modules=()):
    """SHA-256 (16 hex digits) of the content and project-relative path of every file of :func:`import_closure`."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in import_closure(script, root, modules):
        digest.update(str(path.resolve().relative_to(root.resolve())).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
