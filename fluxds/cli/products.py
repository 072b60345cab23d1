"""Formats whose files hold several products (a Fermi-LAT catalog's band SEDs and flux histories, a
pulsar file's SED and pulse profile): which a format has, read from its reader (a ``product=`` parameter
and the ``PRODUCTS`` of its module), and the check of ``--product`` against the file's format."""

from __future__ import annotations

import importlib
import inspect

from fluxds.cli.printing import escaped
from fluxds.cli.usage_error import UsageError

__all__ = ["file_format", "products_of", "check_product"]


def file_format(path: str) -> str | None:
    """The format fluxds reads ``path`` as, or None when it cannot tell (the read then says why)."""
    from fluxds.errors import FluxdsError
    from fluxds.io import detect_format

    try:
        return detect_format(path)
    except (FluxdsError, OSError):
        return None


def products_of(format_name: str | None) -> tuple[str, ...] | None:
    """The products a format's reader gives (``product=``; the first is its default), ``()`` when the
    reader takes ``product=`` without naming them, or None when it takes no ``product=``."""
    from fluxds.io.registry import get_format

    fmt = get_format(format_name) if format_name else None
    if fmt is None or fmt.reader is None:
        return None
    module_name, _, function = fmt.reader.partition(":")
    try:
        module = importlib.import_module(f"fluxds.io.{module_name}")
        reader = getattr(module, function)
        parameter = inspect.signature(reader).parameters.get("product")
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    if parameter is None:
        return None
    named = getattr(module, "PRODUCTS", ())
    products = tuple(str(p) for p in named) if isinstance(named, tuple | list) else ()
    default = parameter.default
    if isinstance(default, str) and default in products:  # the default first
        products = (default, *(p for p in products if p != default))
    return products


def _formats_with_products() -> list[str]:
    from fluxds.io.registry import format_names

    found = []
    for name in format_names():
        products = products_of(name)
        if products is not None:
            found.append(f"{name} ({', '.join(products) or 'see its reader'})")
    return found


def check_product(path: str, product: str, format_name: str | None = None) -> None:
    """Refuse ``--product`` for a file whose format has no products, or a product its format does not
    give (a :class:`UsageError`, exit status 2). A file whose format cannot be told is left to the read,
    which says why."""
    name = format_name or file_format(path)
    if name is None:
        return
    products = products_of(name)
    if products is None:
        raise UsageError(
            f"--product {escaped(product)}: {escaped(path)} is read as {name!r}, which holds one product; "
            f"--product is for formats with several: {'; '.join(_formats_with_products())}"
        )
    if products and product not in products:
        raise UsageError(
            f"--product {escaped(product)}: {escaped(path)} ({name}) holds {', '.join(products)}"
        )
