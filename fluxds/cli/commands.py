"""The subcommands ``info``, ``convert``, ``plot`` and ``demo``, and the choice of the one to run
(``batch`` is in :mod:`fluxds.cli.batch`)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io

from fluxds.cli.batch import run_batch
from fluxds.cli.info import info_text
from fluxds.cli.paths import existing_input, writable_output, writing
from fluxds.cli.printing import escaped, say
from fluxds.cli.read_options import read_options
from fluxds.cli.usage_error import UsageError

__all__ = ["run_command"]


def run_command(args: argparse.Namespace) -> int:
    """Run the subcommand the parsed command line ``args`` names; returns its exit status (its errors
    propagate: :func:`fluxds.cli.dispatch.dispatch` turns them into messages and exit statuses)."""
    import fluxds

    if args.command == "info":
        existing_input(args.file)
        for line in _info(args).split("\n"):
            say(line)  # each line fluxds's own, its values escaped completely
    elif args.command == "convert":
        existing_input(args.input)
        writable_output(args.output, inputs=[args.input])
        likelihood_only = args.format in ("netcdf", "zarr") or (
            args.format is None and args.output.lower().endswith((".nc", ".zarr"))
        )
        if likelihood_only and args.sed_type not in (None, "likelihood"):
            raise UsageError(
                f"{escaped(args.output)}: netCDF/zarr hold the likelihood form; --sed-type {args.sed_type} "
                "needs a FITS or ECSV output"
            )
        ds = fluxds.read(args.input, **read_options(args, args.input))
        with writing(args.output):
            ds.sed.write(
                args.output,
                format=args.format,
                sed_type=args.sed_type,
                overwrite=args.overwrite,
                fsync=not args.no_fsync,
            )
        say(f"wrote {escaped(args.output)}")
    elif args.command == "batch":
        return run_batch(args)
    elif args.command == "plot":  # --- plot ---
        from fluxds.cli.plot_source import plot_source
        from fluxds.plotting.command import plot_file

        existing_input(args.file)
        writable_output(args.output, inputs=[args.file])
        draw = plot_file if args.source is None else functools.partial(plot_source, source=args.source)
        with writing(args.output):
            kind = draw(
                args.file,
                args.output,
                kind=args.kind,
                sed_type=args.sed_type,
                overwrite=args.overwrite,
                read_options=read_options(args, args.file),
            )
        say(f"wrote {escaped(args.output)} ({kind} plot)")
    elif args.command == "demo":
        from fluxds.demo import run_demo

        writable_output(args.out, folder=True)
        printed = io.StringIO()
        try:
            with writing(args.out), contextlib.redirect_stdout(printed):
                run_demo(args.out)
        finally:
            for line in printed.getvalue().rstrip("\n").split("\n"):
                say(line)
    return 0


def _info(args: argparse.Namespace) -> str:
    """The text of ``fluxds info``: one source's table (``--source``), a catalog's summary, or the summary
    of any other Dataset (:func:`info_text`, with the members of a collection)."""
    import fluxds
    from fluxds.cli.catalog_info import catalog_text, is_catalog, source_text
    from fluxds.cli.products import file_format, products_of
    from fluxds.cli.sources import one_source

    options = read_options(args, args.file)
    ds = fluxds.read(args.file, **options)
    if args.source is not None:
        return source_text(one_source(ds, args.source, args.file), args.source, args.file)
    if not is_catalog(ds):
        return info_text(ds, args.file)
    fmt = options.get("format") or file_format(args.file)
    products = products_of(fmt)
    history = None
    if products and "lightcurve" in products and "time" not in ds.dims:
        try:  # the flux histories' bins: the light-curve product, read as the file's format
            history = fluxds.read(args.file, **{**options, "format": fmt, "product": "lightcurve"})
        except fluxds.FluxdsError:  # a catalog without histories (3FHL, 2FHL): not offered
            products = tuple(p for p in products if p != "lightcurve")
    return catalog_text(ds, args.file, format_name=fmt, products=products, history=history)
