"""The argparse parser of the ``fluxds`` command: its subcommands and their options (the value types are
in :mod:`fluxds.cli.value_types`, the read options all subcommands share in :mod:`fluxds.cli.read_options`).
"""

from __future__ import annotations

import argparse
import sys

from fluxds import schema
from fluxds.cli import value_types
from fluxds.cli.printing import say
from fluxds.cli.read_options import add_read_options

__all__ = ["build_parser", "DESCRIPTION", "PLOT_QUANTITIES"]

DESCRIPTION = "Gamma-ray flux estimates (GADF SED tables) as xarray Datasets: inspect, convert, demo."
#: the quantities ``fluxds plot --sed-type`` accepts
PLOT_QUANTITIES = ("likelihood", "norm", "dnde", "e2dnde", "flux", "eflux", "sqrt_ts", "ts")


class _Parser(argparse.ArgumentParser):
    """argparse with the fluxds error line (``fluxds: error: ...``, exit status 2) for every subcommand,
    printed through :func:`say` (a bad value may hold control characters)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        say(f"fluxds: error: {message}", err=True)
        raise SystemExit(2)

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            say(message.rstrip("\n"), err=True)
        raise SystemExit(status)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``fluxds`` command line, with every subcommand (``info``, ``convert``, ``batch``,
    ``demo``, ``plot``)."""
    from fluxds.parallel import DEFAULT_CONNECT_TIMEOUT

    parser = _Parser(prog="fluxds", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="summarise a file")
    info.add_argument("file")
    info.add_argument(
        "--source",
        metavar="NAME",
        help="one source's table instead (its bins, value, errors, upper limits and flags, its model): a "
        "name along the 'source' dimension or a member of a collection",
    )
    add_read_options(info)
    conv = sub.add_parser("convert", help="convert a file to another format or SED type")
    conv.add_argument("input")
    conv.add_argument("output")
    add_read_options(conv)
    conv.add_argument("--sed-type", choices=schema.FILE_SED_TYPES)
    conv.add_argument(
        "--format", type=value_types.write_format, help="output format (default: from the file name)"
    )
    conv.add_argument("--overwrite", action="store_true", help="replace an existing output")
    conv.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not flush the output to disk before it takes its name (scratch files: still atomic, "
        "not durable across a power loss; faster for large files)",
    )
    many = sub.add_parser("batch", help="convert many files in parallel (dask)")
    many.add_argument("inputs", nargs="+", metavar="INPUT")
    many.add_argument("--out", required=True, help="output directory")
    many.add_argument("--to", choices=["netcdf", "zarr", "fits"], default="netcdf")
    many.add_argument("--sed-type", choices=schema.FILE_SED_TYPES)
    many.add_argument(
        "--scheduler", type=value_types.scheduler, help="address of a dask.distributed scheduler"
    )
    many.add_argument(
        "--connect-timeout",
        type=value_types.seconds,
        default=DEFAULT_CONNECT_TIMEOUT,
        metavar="SECONDS",
        help="give up on --scheduler if it does not answer in this time "
        f"(default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    many.add_argument(
        "--workers", type=value_types.workers, help="start a local dask.distributed cluster of N processes"
    )
    many.add_argument("--no-progress", action="store_true", help="no progress bar")
    many.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not flush each output to disk before it takes its name (scratch outputs: still atomic, "
        "not durable across a power loss); not with --combine",
    )
    add_read_options(many, isolate=False)
    many.add_argument(
        "--isolate",
        type=value_types.seconds,
        metavar="SECONDS",
        help="read each input first in a separate, confined process (this many CPU seconds from when it "
        "is ready; memory capped from the read budget), and report it as failed if that process is killed "
        "or runs out of time or memory (for files from elsewhere: a damaged HDF5/netCDF file can abort or "
        "hang the C library)",
    )
    many.add_argument(
        "--combine",
        choices=["source", "time"],
        help="write all inputs as ONE Dataset along this dimension to --out (a .nc file or .zarr store), "
        "incrementally (memory bounded by one input)",
    )
    demo = sub.add_parser("demo", help="run the demo on the SED shipped with fluxds")
    demo.add_argument("--out", default="fluxds-demo", help="output directory")
    # --- plot (fluxds.plotting.command) ---
    plot = sub.add_parser("plot", help="plot a file (SED, light curve, map grid or likelihood profiles)")
    plot.add_argument("file")
    plot.add_argument(
        "-o", "--output", type=value_types.image, required=True, help="image file (.png, .pdf, .svg)"
    )
    plot.add_argument(
        "--kind",
        choices=["sed", "profiles", "lightcurve", "grid"],
        help="default: grid for a sky map, lightcurve with a time dimension, else sed",
    )
    plot.add_argument(
        "--sed-type",
        choices=PLOT_QUANTITIES,
        help="dnde, e2dnde, flux, eflux, likelihood (grids: also sqrt_ts, ts)",
    )
    plot.add_argument(
        "--source",
        metavar="NAME",
        help="plot one source by name (a catalog's source, a member of a collection); an unknown name is "
        "a usage error that suggests close ones",
    )
    plot.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_read_options(plot)
    # --- end plot ---
    return parser
