"""The read options every subcommand shares (``--derive-edges``, ``--units``, ``--columns``,
``--product``, ``--isolate``): declared on a parser, and turned back into the options of
:func:`fluxds.read`."""

from __future__ import annotations

import argparse

from fluxds.cli import value_types

__all__ = ["add_read_options", "read_options"]


def add_read_options(parser: argparse.ArgumentParser, *, isolate: bool = True) -> None:
    """Declare the read options on a subcommand's ``parser`` (``isolate``: with ``--isolate`` too)."""
    parser.add_argument(
        "--derive-edges",
        action="store_true",
        help="for an SED with e_ref only: derive energy bin edges (geometric midpoints), recorded",
    )
    parser.add_argument(
        "--units",
        type=value_types.units,
        metavar="gadf|COLUMN=UNIT,...",
        help="units for columns the file gives none for: 'gadf' = the spec's recommended (MeV-based), or "
        "one unit per column, e.g. e_ref=TeV,dnde='cm-2 s-1 TeV-1'",
    )
    parser.add_argument(
        "--columns",
        type=value_types.mapping,
        metavar="FILE_NAME=NAME,...",
        help="any table (FITS, ECSV, HDF5, plain text): the file's column names -> fluxds (GADF) names, "
        "e.g. E=e_ref,F=dnde; a name the file lacks is an error (a file whose format fluxds cannot tell "
        "is read as a plain-text table)",
    )
    parser.add_argument(
        "--product",
        metavar="NAME",
        help="for files holding several products: which one to read, e.g. 'lightcurve' for a Fermi-LAT "
        "catalog's flux histories (default: the band SEDs, 'sed'); a file whose format has one product "
        "only is a usage error",
    )
    if isolate:
        parser.add_argument(
            "--isolate",
            type=value_types.seconds,
            metavar="SECONDS",
            help="read the file first in a separate, confined process (this many CPU seconds from when it "
            "is ready, finite, > 0; memory capped from the read budget), and refuse it if that process is "
            "killed or runs out of time or memory (for files from elsewhere)",
        )


def read_options(args: argparse.Namespace, *paths: str) -> dict:
    """The options of :func:`fluxds.read` from the command line; with ``--columns``, ``format="ascii"``
    when no input has a format fluxds can tell (a plain-text table); with ``--product``, each input's
    format must read that product (else a :class:`~fluxds.cli.usage_error.UsageError`)."""
    options = {}
    if args.derive_edges:
        options["derive_edges"] = True
    if args.units:
        options["units"] = args.units
    if args.isolate is not None:
        options["isolate"] = args.isolate
    if args.columns:
        from fluxds.errors import UnknownFormatError
        from fluxds.io import detect_format

        options["columns"] = args.columns
        unknown = 0
        for path in paths:
            try:
                detect_format(path)
            except UnknownFormatError:
                unknown += 1
        if unknown == len(paths):
            options["format"] = "ascii"
    if getattr(args, "product", None) is not None:
        from fluxds.cli.products import check_product

        for path in paths:
            check_product(path, args.product, options.get("format"))
        options["product"] = args.product
    return options
