"""The ``fluxds`` command line: ``info``, ``convert``, ``demo``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

from fluxds import schema

__all__ = ["main", "info_text"]


def info_text(ds: xr.Dataset, path: str = "") -> str:
    """A summary of a fluxds Dataset: dims and sizes, SED types available, energy range, sources,
    time range, attributes of the contract."""
    quantities = ds.sed.available_quantities
    types = [t for t in schema.FILE_SED_TYPES if (t if t != "likelihood" else "norm") in quantities]
    energy = ds[schema.ENERGY]
    lo = ds[schema.ENERGY_MIN] if schema.ENERGY_MIN in ds.coords else energy
    hi = ds[schema.ENERGY_MAX] if schema.ENERGY_MAX in ds.coords else energy
    lines = [
        f"file:          {path}" if path else None,
        f"dims:          {', '.join(f'{k}={v}' for k, v in ds.sizes.items())}",
        f"SED types:     {', '.join(types)} (input: {ds.sed.sed_type_init})",
        f"energy range:  {float(lo.min()):.6g} - {float(hi.max()):.6g} {energy.attrs.get('units')}"
        f" ({ds.sizes[schema.ENERGY]} bins{'' if ds.sed.has_edges else ', reference energies only'})",
    ]
    if "source" in ds.coords:
        lines.append(f"sources:       {', '.join(map(str, np.atleast_1d(ds['source'].values)))}")
    if "gti_start" in ds:
        attrs = ds["gti_start"].attrs
        lines.append(
            f"time range:    {float(ds['gti_start'].min()):.10g} - {float(ds['gti_stop'].max()):.10g}"
            f" {attrs.get('units')} since MJD {attrs.get('mjdrefi', 0) + attrs.get('mjdreff', 0)}"
            f" ({attrs.get('time_scale')}), {ds.sizes['gti']} GTI"
        )
    for key in ("n_sigma", "n_sigma_ul", "ul_conf", "sqrt_ts_threshold_ul"):
        if key in ds.attrs:
            lines.append(f"{key + ':':22s}{ds.attrs[key]}")
    model = ds.sed.reference_model
    lines.append(
        f"reference:     {type(model).__name__ if model else None} ({ds.attrs.get('reference_model_origin')})"
    )
    lines.append(f"quantities:    {', '.join(quantities)}")
    return "\n".join(line for line in lines if line is not None)


_DESCRIPTION = "Gamma-ray flux estimates (GADF SED tables) as xarray Datasets: inspect, convert, demo."


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--derive-edges",
        action="store_true",
        help="for an SED with e_ref only: derive energy bin edges (geometric midpoints), recorded",
    )
    parser.add_argument(
        "--units",
        choices=["gadf"],
        help="units for columns the file gives none for: 'gadf' = the spec's recommended (MeV-based)",
    )
    parser.add_argument(
        "--isolate",
        type=float,
        metavar="SECONDS",
        help="read the file first in a separate process with this time limit, and refuse it if that "
        "process is killed or runs out of time (for files from elsewhere)",
    )


def _read_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.derive_edges:
        options["derive_edges"] = True
    if args.units:
        options["units"] = args.units
    if args.isolate:
        options["isolate"] = args.isolate
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fluxds", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="summarise a file")
    info.add_argument("file")
    _add_read_options(info)
    conv = sub.add_parser("convert", help="convert a file to another format or SED type")
    conv.add_argument("input")
    conv.add_argument("output")
    _add_read_options(conv)
    conv.add_argument("--sed-type", choices=schema.FILE_SED_TYPES)
    conv.add_argument("--format", help="output format (default: from the file name)")
    conv.add_argument("--overwrite", action="store_true", help="replace an existing output")
    many = sub.add_parser("batch", help="convert many files in parallel (dask)")
    many.add_argument("inputs", nargs="+", metavar="INPUT")
    many.add_argument("--out", required=True, help="output directory")
    many.add_argument("--to", choices=["netcdf", "zarr", "fits"], default="netcdf")
    many.add_argument("--sed-type", choices=schema.FILE_SED_TYPES)
    many.add_argument("--scheduler", help="address of a dask.distributed scheduler")
    many.add_argument("--workers", type=int, help="start a local dask.distributed cluster of N processes")
    many.add_argument("--no-progress", action="store_true", help="no progress bar")
    many.add_argument(
        "--isolate",
        type=float,
        metavar="SECONDS",
        help="read each input first in a separate process with this time limit, and report it as failed "
        "if that process is killed or runs out of time (for files from elsewhere: a damaged HDF5/netCDF "
        "file can abort or hang the C library)",
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
    plot.add_argument("-o", "--output", required=True, help="image file (.png, .pdf, .svg)")
    plot.add_argument(
        "--kind",
        choices=["sed", "profiles", "lightcurve", "grid"],
        help="default: grid for a sky map, lightcurve with a time dimension, else sed",
    )
    plot.add_argument("--sed-type", help="dnde, e2dnde, flux, eflux, likelihood (grids: also sqrt_ts, ts)")
    plot.add_argument("--overwrite", action="store_true", help="replace an existing output")
    # --- end plot ---
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (1 on a fluxds error, with its message)."""
    import fluxds

    args = _parser().parse_args(argv)
    warnings.simplefilter("ignore", category=UserWarning)
    try:
        if args.command == "info":
            print(info_text(fluxds.read(args.file, **_read_options(args)), args.file))
        elif args.command == "convert":
            ds = fluxds.read(args.input, **_read_options(args))
            ds.sed.write(args.output, format=args.format, sed_type=args.sed_type, overwrite=args.overwrite)
            print(f"wrote {args.output}")
        elif args.command == "batch":
            return _batch(args)
        elif args.command == "plot":  # --- plot ---
            from fluxds.plotting.command import plot_file

            kind = plot_file(
                args.file, args.output, kind=args.kind, sed_type=args.sed_type, overwrite=args.overwrite
            )
            print(f"wrote {args.output} ({kind} plot)")
        elif args.command == "demo":
            from fluxds.demo import run_demo

            run_demo(args.out)
    except fluxds.OverwriteError as exc:
        print(f"fluxds: error: {exc}".replace("pass overwrite=True", "pass --overwrite"), file=sys.stderr)
        return 1
    except fluxds.MissingEnergyEdgesError as exc:
        message = str(exc).replace("read or build it with derive_edges=True", "pass --derive-edges")
        print(f"fluxds: error: {message}", file=sys.stderr)
        return 1
    except fluxds.FluxdsError as exc:
        print(f"fluxds: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _batch(args: argparse.Namespace) -> int:
    from fluxds.parallel import batch

    if args.combine:
        return _combine(args)
    result = batch(
        args.inputs,
        args.out,
        to=args.to,
        sed_type=args.sed_type,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        isolate=args.isolate,
    )
    print(
        f"written {len(result.written)}, skipped {len(result.skipped)} (exist), failed {len(result.failed)}"
    )
    for source, message in result.failed.items():
        print(f"fluxds: error: {source}: {message}", file=sys.stderr)
    return 0 if result.ok else 1


def _combine(args: argparse.Namespace) -> int:
    from fluxds.concat import concat_files
    from fluxds.errors import FormatError

    if args.sed_type not in (None, "likelihood"):
        raise FormatError(f"--combine writes netCDF/zarr (likelihood form), not --sed-type {args.sed_type}")
    to = None if args.to == "netcdf" and args.out.endswith(".zarr") else args.to
    result = concat_files(
        args.inputs,
        args.out,
        dim=args.combine,
        to=to,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        isolate=args.isolate,
    )
    if result.skipped:
        print(f"{args.out} exists: skipped")
    elif result.written:
        print(f"wrote {args.out} ({len(args.inputs)} inputs along {args.combine})")
    for source, message in result.failed.items():
        print(f"fluxds: error: {source}: {message}", file=sys.stderr)
    if result.failed:
        print(f"fluxds: error: {len(result.failed)} inputs failed; {args.out} not written", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
