"""Import rules of the package, checked on the source of every module (an AST walk, nothing imported
except where said).

- Rule A: no module imports another module's private names: ``from fluxds.x import _name`` (an
  underscore name, not a dunder) only in ``fluxds/x.py`` itself; the same for ``fluxds.x._name`` reached
  as an attribute of an imported module.
- Rule B: a private module (``_something.py``, or anything inside a private package ``_something/``)
  is imported only by the modules of its own package directory (its siblings and the package's
  ``__init__.py``; inside a private package, by its own modules too).
- Rule C: under ``fluxds/io/``, a format family package never imports another family package. The
  families are ``FAMILIES`` of :mod:`fluxds.io.registry`; until that constant exists, every sub-package
  of ``fluxds/io`` except ``guard`` and ``output`` (shared by all families).
- Heavy dependencies (gammapy, zarr, dask.distributed, matplotlib) are imported lazily (inside the
  functions that need them), except in the modules that exist to wrap them (:data:`HEAVY_ALLOWED`).

Every import statement counts, also those inside functions (a lazy import is still an import), except
for the heavy-dependency rule, which is about what runs when a module is imported.
"""

from __future__ import annotations

import ast
import functools
import importlib
import subprocess
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import fluxds

PACKAGE = "fluxds"
ROOT = Path(fluxds.__file__).resolve().parent  # the fluxds/ folder
IO = "fluxds.io"
#: sub-packages of fluxds/io shared by every family (never a family), while FAMILIES is not defined
IO_SHARED = ("guard", "output")
HEAVY = ("gammapy", "zarr", "distributed", "matplotlib")
#: the modules that exist to wrap a heavy dependency: they may import it at module level. gammapy: the
#: private modules of fluxds.interop (fluxds.interop itself, whose functions fluxds exports at the top
#: level, imports them lazily). zarr: fluxds.io.guard.zarr_safe, whose SafeLocalStore subclasses zarr's
#: LocalStore (imported under ``try``: zarr is an optional extra). distributed, matplotlib: none
#: (fluxds.parallel and fluxds.plotting import them inside functions).
HEAVY_ALLOWED: dict[str, frozenset[str]] = {
    "gammapy": frozenset(
        {
            "fluxds.interop._from",
            "fluxds.interop._geometry",
            "fluxds.interop._healpix",
            "fluxds.interop._models",
            "fluxds.interop._to",
        }
    ),
    "zarr": frozenset({"fluxds.io.guard.zarr_safe"}),
    "distributed": frozenset(),
    "matplotlib": frozenset(),
}


@dataclass(frozen=True)
class Module:
    name: str  # dotted: fluxds.profiles.interp; a package by its own name: fluxds.profiles
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package directory the module is in (a package's ``__init__``: the package itself)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def shown(self) -> str:
        return self.path.relative_to(ROOT.parent).as_posix()


@dataclass(frozen=True)
class Imported:
    """One thing a module imports: a module (``name`` None) or a name from a module."""

    line: int
    module: str
    name: str | None = None
    how: str = "import"  # "import", or "attribute" for ``module._name`` reached through an imported module


@functools.cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        if any(not part.isidentifier() for part in parts):
            continue  # not importable (a data folder, a script with a dash)
        name = ".".join(parts)
        found[name] = Module(name, path, is_package)
    return found


@functools.cache
def tree(name: str) -> ast.Module:
    module = modules()[name]
    return ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _base_of(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ``from ... import`` statement takes names from."""
    if not node.level:
        return node.module or ""
    parts = module.package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None if the chain does not start at a plain name."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def collect_imports(module: Module, parsed: ast.Module, known: Collection[str]) -> tuple[Imported, ...]:
    """Everything ``module`` (source ``parsed``) imports from fluxds, anywhere in its source: modules
    (``import``, ``from fluxds.x import submodule``, the module a name is taken from) and names, and the
    private names reached as attributes of imported fluxds modules (``fluxds.x._name``, ``alias._name``).
    ``known``: the dotted names of all modules (to tell a submodule from a name)."""
    found: list[Imported] = []
    bound: dict[str, str] = {}  # local name -> the fluxds module it is bound to (whole file, any scope)
    for node in ast.walk(parsed):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _ours(alias.name):
                    continue
                found.append(Imported(node.lineno, alias.name))
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(module, node)
            if not _ours(base):
                continue
            found.append(Imported(node.lineno, base))
            for alias in node.names:
                if alias.name == "*":
                    continue
                submodule = f"{base}.{alias.name}"
                if submodule in known:
                    found.append(Imported(node.lineno, submodule))
                    bound[alias.asname or alias.name] = submodule
                else:
                    found.append(Imported(node.lineno, base, alias.name))
    for node in ast.walk(parsed):
        if not isinstance(node, ast.Attribute):
            continue
        chain = _chain(node)
        if chain is None or chain[0] not in bound:
            continue
        current = bound[chain[0]]
        for attr in chain[1:]:
            if f"{current}.{attr}" in known:  # a submodule reached as an attribute
                current = f"{current}.{attr}"
                found.append(Imported(node.lineno, current, how="attribute"))
                continue
            if is_private(attr):
                found.append(Imported(node.lineno, current, attr, how="attribute"))
            break
    return tuple(dict.fromkeys(found))  # in order, without repeats


@functools.cache
def imports_of(name: str) -> tuple[Imported, ...]:
    """:func:`collect_imports` of the module ``name`` of the package."""
    return collect_imports(modules()[name], tree(name), modules())


def _describe(module: Module, item: Imported) -> str:
    what = f"imports {item.name} from {item.module}" if item.name else f"imports {item.module}"
    if item.how == "attribute":
        what += " (attribute access)"
    return f"{module.shown}:{item.line}: {what}"


def _report(rule: str, problems: list[str]) -> str:
    return f"{len(problems)} violation(s) of {rule}:\n" + "\n".join(problems)


def private_name_violations() -> list[str]:
    problems = []
    for name, module in modules().items():
        for item in imports_of(name):
            if item.name is not None and is_private(item.name) and item.module != name:
                problems.append(_describe(module, item))
    return problems


def private_owner(importer: Module, target: str) -> str | None:
    """The package whose private module ``importer`` may not import by importing ``target``, or None."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if not is_private(part):
            continue
        owner, private = ".".join(parts[:i]), ".".join(parts[: i + 1])
        inside = importer.package == private or importer.package.startswith(private + ".")
        if importer.package != owner and not inside:
            return owner
    return None


def private_module_violations() -> list[str]:
    problems = []
    for name, module in modules().items():
        for item in imports_of(name):
            owner = private_owner(module, item.module)
            if owner is not None:
                problems.append(f"{_describe(module, item)}, private to package {owner}")
    return problems


def io_families() -> tuple[str, ...]:
    """The family packages of fluxds/io, as dotted names (see the module docstring)."""
    if (ROOT / "io" / "registry.py").exists():
        registry = importlib.import_module(f"{IO}.registry")
        if hasattr(registry, "FAMILIES"):
            families = []
            for entry in registry.FAMILIES:  # names ("lightcurve"), dotted names or the packages themselves
                entry = getattr(entry, "__name__", entry)
                assert isinstance(entry, str), f"fluxds.io.registry.FAMILIES holds {entry!r}, not a name"
                families.append(entry if entry.startswith(IO + ".") else f"{IO}.{entry}")
            unknown = [f for f in families if f not in modules() or not modules()[f].is_package]
            assert not unknown, f"fluxds.io.registry.FAMILIES names no package under fluxds/io: {unknown}"
            return tuple(families)
    return tuple(
        name
        for name, module in modules().items()
        if module.is_package and name.rpartition(".")[0] == IO and name.rpartition(".")[2] not in IO_SHARED
    )


def _family_of(name: str, families: tuple[str, ...]) -> str | None:
    return next((f for f in families if name == f or name.startswith(f + ".")), None)


def family_violations() -> list[str]:
    families = io_families()
    problems = []
    for name, module in modules().items():
        own = _family_of(name, families)
        if own is None:
            continue
        for item in imports_of(name):
            other = _family_of(item.module, families)
            if other is not None and other != own:
                short = [f.rpartition(".")[2] for f in (own, other)]
                problems.append(f"{_describe(module, item)} (family {short[0]} imports family {short[1]})")
    return problems


def _heavy(imported: str) -> str | None:
    parts = imported.split(".")
    if parts[0] in HEAVY:
        return parts[0]
    if parts[0] == "dask" and "distributed" in parts:
        return "distributed"
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_at_import(body: list[ast.stmt]):
    """The statements of a module body that run when it is imported (not the bodies of functions;
    not ``if TYPE_CHECKING:`` blocks)."""
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _run_at_import(node.orelse)
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _run_at_import(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            yield from _run_at_import(handler.body)
        for case in getattr(node, "cases", []) or []:
            yield from _run_at_import(case.body)


def heavy_import_violations() -> list[str]:
    problems = []
    for name, module in modules().items():
        for node in _run_at_import(tree(name).body):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for heavy in dict.fromkeys(filter(None, map(_heavy, imported))):
                if name not in HEAVY_ALLOWED[heavy]:
                    problems.append(f"{module.shown}:{node.lineno}: imports {heavy} at module level")
    return problems


# --- the tests ---


def test_the_walk_sees_the_package():
    names = modules()
    assert {"fluxds", "fluxds.io", "fluxds.profiles.interp", "fluxds.profiles._pieces"} <= set(names)
    assert any(item.name == "build" for item in imports_of("fluxds.profiles.interp"))


def test_no_module_imports_another_modules_private_names():
    problems = private_name_violations()
    assert not problems, _report("rule A (no private names of another module)", problems)


def test_private_modules_are_imported_only_within_their_package():
    problems = private_module_violations()
    assert not problems, _report("rule B (private modules stay in their package)", problems)


def test_io_families_do_not_import_each_other():
    assert io_families(), "no family package found under fluxds/io"
    problems = family_violations()
    assert not problems, _report("rule C (fluxds/io families are independent)", problems)


def test_heavy_dependencies_are_imported_lazily():
    problems = heavy_import_violations()
    assert not problems, _report("the lazy-import rule (heavy dependencies inside functions)", problems)


def test_importing_fluxds_loads_no_heavy_dependency():
    """What runs: ``import fluxds`` and the top-level functions' modules load none of them."""
    code = (
        "import sys, fluxds, fluxds.cli, fluxds.interop, fluxds.parallel, fluxds.concat, fluxds.plotting\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"heavy dependencies loaded on import: {out.strip()}"


# --- the checker, checked on small sources ---


def _imports_in(source: str, name: str = "fluxds.example") -> tuple[Imported, ...]:
    """:func:`collect_imports` on ``source`` as if it were the module ``name`` of the package."""
    module = Module(name, ROOT / "example.py", is_package=False)
    return collect_imports(module, ast.parse(source), {*modules(), name})


def test_checker_finds_names_modules_and_attributes():
    found = _imports_in(
        "import fluxds.profiles.interp\n"
        "import fluxds.parallel as par\n"
        "from fluxds.profiles import _pieces, castro\n"
        "from fluxds.healpix import _hidden, PIXEL\n"
        "def f():\n"
        "    from fluxds.concat import _lazy\n"
        "    return (fluxds.profiles.interp._a, par._b, castro._c, castro.public,\n"
        "            fluxds.profiles._pieces.take)\n"
    )
    names = {(i.module, i.name, i.how) for i in found if i.name}
    assert names == {
        ("fluxds.healpix", "_hidden", "import"),
        ("fluxds.healpix", "PIXEL", "import"),
        ("fluxds.concat", "_lazy", "import"),
        ("fluxds.profiles.interp", "_a", "attribute"),
        ("fluxds.parallel", "_b", "attribute"),
        ("fluxds.profiles.castro", "_c", "attribute"),
    }
    assert {i.module for i in found if i.name is None} >= {"fluxds.profiles._pieces", "fluxds.parallel"}


def test_checker_resolves_relative_imports():
    found = _imports_in("from . import _pieces\nfrom .interp import _x\n", "fluxds.profiles.example")
    assert {(i.module, i.name) for i in found} >= {
        ("fluxds.profiles._pieces", None),
        ("fluxds.profiles.interp", "_x"),
    }


def test_private_module_rule():
    def importer(name: str, is_package: bool = False) -> Module:
        return Module(name, ROOT / "example.py", is_package)

    assert private_owner(importer("fluxds.models.curved"), "fluxds.models._base") is None
    assert private_owner(importer("fluxds.models", is_package=True), "fluxds.models._base") is None
    assert private_owner(importer("fluxds.plotting.x"), "fluxds.profiles._fast") == "fluxds.profiles"
    assert private_owner(importer("fluxds.models.sub.x"), "fluxds.models._base") == "fluxds.models"
    assert private_owner(importer("fluxds.io._inner.a"), "fluxds.io._inner.b") is None
    assert private_owner(importer("fluxds.io.cf.a"), "fluxds.io._inner.b") == "fluxds.io"
    assert private_owner(importer("fluxds.io.cf.a"), "fluxds.io.cf") is None


def test_family_rule():
    families = ("fluxds.io.cf", "fluxds.io.lightcurve")
    assert _family_of("fluxds.io.lightcurve.files", families) == "fluxds.io.lightcurve"
    assert _family_of("fluxds.io.cf", families) == "fluxds.io.cf"
    assert _family_of("fluxds.io.cfx", families) is None
    assert _family_of("fluxds.io.guard.budget", families) is None


def test_import_fluxds_alone_loads_no_astropy_units():
    """``import fluxds`` registers the accessor only: astropy.units (~0.25 s, issue 4's case H goal of
    +0.15 s over ``import xarray``) and astropy.io.fits load on first use. A module-level import of
    ``fluxds.timeaxis`` from ``fluxds.validate`` once broke this unnoticed."""
    watched = ("astropy.units", "astropy.io.fits")
    code = f"import sys, fluxds\nprint(sorted(m for m in {watched!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"loaded by import fluxds: {out.strip()}"
