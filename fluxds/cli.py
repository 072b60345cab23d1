"""The ``fluxds`` command line: ``info``, ``convert``, ``batch``, ``plot``, ``demo``.

Everything it prints passes through one function, :func:`say`, which escapes control characters
(:func:`fluxds.terminal.escape_controls`): a file or source name with an ANSI escape sequence is shown, not
obeyed. Paths and values from files are escaped completely, newlines too; and every line after the first of
a message is indented, so that nothing from a file (a file name holding a newline) can start a line of
its own and pass for one of fluxds's (a summary, an error line).

Exit status: 0 done; 1 a file was refused or a conversion failed (``fluxds: error: ...``); 2 the command
line is wrong (a bad option value, a path that does not exist or cannot be written, output names
that collide, an unreachable scheduler: ``fluxds: error: ...``, no traceback); 130 interrupted; 141 the
reader of the output went away (``fluxds info X | head -1``), quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.terminal import escape_controls

__all__ = ["main", "info_text", "say"]


def say(text: object, *, err: bool = False) -> None:
    """Print a message to stdout (``err``: stderr) with its control characters escaped (newline and tab
    kept) and every line after the first indented by two spaces (a multi-line message, such as an error
    listing problems, cannot start a line with text from elsewhere): the one way the command line prints.

    Parameters
    ----------
    text : object
        Printed as ``str(text)``; print lines that must start at the margin with one call each.
    err : bool
        To stderr instead of stdout.
    """
    stream = sys.stderr if err else sys.stdout
    first, *rest = escape_controls(str(text)).split("\n")
    stream.write("".join([first, *(f"\n  {line}" if line else "\n" for line in rest)]) + "\n")
    stream.flush()


def _value(value: object) -> str:
    """One value from a file (a name, an attribute) for a summary line: every control character escaped,
    newlines too, so that it cannot fake a line of its own."""
    return escape_controls(str(value), keep="")


def info_text(ds: xr.Dataset, path: str = "") -> str:
    """A summary of a fluxds Dataset: dims and sizes, SED types available, energy range, sources,
    time range, attributes of the contract."""
    quantities = ds.sed.available_quantities
    sed_type_init = ds.sed.sed_type_init
    types = [t for t in schema.FILE_SED_TYPES if (t if t != "likelihood" else "norm") in quantities]
    energy = ds[schema.ENERGY]
    lo = ds[schema.ENERGY_MIN] if schema.ENERGY_MIN in ds.coords else energy
    hi = ds[schema.ENERGY_MAX] if schema.ENERGY_MAX in ds.coords else energy
    lines = [
        f"file:          {_value(path)}" if path else None,
        f"dims:          {', '.join(f'{_value(k)}={v}' for k, v in ds.sizes.items())}",
        f"SED types:     {', '.join(types)} (input: {_value(sed_type_init or 'SED_TYPE keyword absent')})",
        f"energy range:  {float(lo.min()):.6g} - {float(hi.max()):.6g} {_value(energy.attrs.get('units'))}"
        f" ({ds.sizes[schema.ENERGY]} bins{'' if ds.sed.has_edges else ', reference energies only'})",
    ]
    if "source" in ds.coords:
        lines.append(f"sources:       {', '.join(map(_value, np.atleast_1d(ds['source'].values)))}")
    if "time_min" in ds.coords or "time_min" in ds.data_vars:
        lines.append(_time_bins_line(ds))
    if "gti_start" in ds:
        attrs = ds["gti_start"].attrs
        lines.append(
            f"time range:    {float(ds['gti_start'].min()):.10g} - {float(ds['gti_stop'].max()):.10g}"
            f" {_value(attrs.get('units'))}"
            f" since MJD {_value(attrs.get('mjdrefi', 0) + attrs.get('mjdreff', 0))}"
            f" ({_value(attrs.get('time_scale'))}), {ds.sizes['gti']} GTI"
        )
    for key in ("n_sigma", "n_sigma_ul", "ul_conf", "sqrt_ts_threshold_ul"):
        if key in ds.attrs:
            lines.append(f"{key + ':':22s}{_value(ds.attrs[key])}")
    model = ds.sed.reference_model
    if isinstance(model, dict):  # one model per source
        name = f"one per source ({', '.join(sorted({type(m).__name__ for m in model.values()}))})"
    else:
        name = type(model).__name__ if model is not None else None
    lines.append(f"reference:     {name} ({_value(_reference_reason(ds, model))})")
    lines.append(f"quantities:    {', '.join(map(_value, quantities))}")
    return "\n".join(line for line in lines if line is not None)


def _time_bins_line(ds: xr.Dataset) -> str:
    """The time bins of a light curve: how many, the first and the last, as ISO dates in the Dataset's own
    time scale (named): ``34 bins (tt), first 2006-07-29 20:31:05.184 - 2006-07-29 20:41:05.184, ...``."""
    start, stop = ds.sed.times()
    start, stop = np.atleast_1d(start), np.atleast_1d(stop)
    first = f"{start[0].iso} - {stop[0].iso}"
    last = f"{start[-1].iso} - {stop[-1].iso}"
    return f"time bins:     {len(start)} bins ({_value(start.scale)}), first {first}, last {last}"


def _reference_reason(ds: xr.Dataset, model: object) -> object:
    """Where the reference model comes from; without one, why not, from what the Dataset holds (a
    ``ref_dnde`` at a single energy, not positive, or varying along another dimension gives no template)."""
    origin = ds.attrs.get("reference_model_origin")
    if model is not None:
        return origin if origin else "recorded in the Dataset"
    ref = ds.get("ref_dnde")
    if ref is not None:
        if ref.dims != (schema.ENERGY,):
            return f"none: ref_dnde varies along {', '.join(d for d in ref.dims if d != schema.ENERGY)}"
        if ref.size < 2:
            return (
                "none: ref_dnde is given at a single energy, which fixes no spectral shape (the stored "
                "ref_* columns still give the fluxes of the bin)"
            )
        if not bool((ref > 0).all()):
            return "none: ref_dnde is not positive at every energy, so no log-log template goes through it"
    return origin if origin else "none: the Dataset records no reference model"


_DESCRIPTION = "Gamma-ray flux estimates (GADF SED tables) as xarray Datasets: inspect, convert, demo."
_PLOT_QUANTITIES = ("likelihood", "norm", "dnde", "e2dnde", "flux", "eflux", "sqrt_ts", "ts")
# the reasons a write fails that say the place cannot be written as named (usage errors, exit status 2)
_PATH_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG}
)
_ZARR_MARKERS = (".zgroup", ".zattrs", ".zarray", ".zmetadata", "zarr.json")


class UsageError(Exception):
    """The command line asks for something that cannot be done as written (exit status 2)."""


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


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def _workers(text: str) -> int:
    """argparse type: a number of worker processes, 1 ... MAX_WORKERS."""
    from fluxds.parallel import MAX_WORKERS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, got {text!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_WORKERS}, got {text!r}")
    return value


def _scheduler(text: str) -> str:
    """argparse type: a scheduler address (reachability is checked when connecting)."""
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected an address such as tcp://HOST:8786, got {text!r}")
    return text


def _write_format(text: str) -> str:
    """argparse type: a format fluxds writes."""
    from fluxds.io.registry import formats

    writable = [fmt.name for fmt in formats() if fmt.writer is not None]
    if text not in writable:
        raise argparse.ArgumentTypeError(
            f"unknown output format {text!r}; expected one of {', '.join(writable)}"
        )
    return text


def _image(text: str) -> str:
    """argparse type: an image file name whose suffix matplotlib can write."""
    from matplotlib.figure import Figure

    suffix = Path(text).suffix.lstrip(".").lower()
    if suffix not in Figure().canvas.get_supported_filetypes():
        raise argparse.ArgumentTypeError(
            f"{text!r}: unknown image format {suffix!r}; use a name ending in .png, .pdf or .svg"
        )
    return text


def _mapping(text: str) -> dict[str, str]:
    """argparse type: ``NAME=VALUE[,NAME=VALUE ...]`` -> a dict (names and values stripped)."""
    found = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,NAME=VALUE ...], got {text!r}")
        found[name.strip()] = value.strip()
    return found


def _units(text: str) -> str | dict[str, str]:
    """argparse type for --units: ``gadf`` or a mapping ``column=unit,...``."""
    if text == "gadf":
        return text
    try:
        return _mapping(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r}; expected 'gadf' or NAME=UNIT[,NAME=UNIT ...] (a unit per column)"
        ) from None


def _add_read_options(parser: argparse.ArgumentParser, *, isolate: bool = True) -> None:
    parser.add_argument(
        "--derive-edges",
        action="store_true",
        help="for an SED with e_ref only: derive energy bin edges (geometric midpoints), recorded",
    )
    parser.add_argument(
        "--units",
        type=_units,
        metavar="gadf|COLUMN=UNIT,...",
        help="units for columns the file gives none for: 'gadf' = the spec's recommended (MeV-based), or "
        "one unit per column, e.g. e_ref=TeV,dnde='cm-2 s-1 TeV-1'",
    )
    parser.add_argument(
        "--columns",
        type=_mapping,
        metavar="FILE_NAME=NAME,...",
        help="plain-text tables: the file's column names -> fluxds (GADF) names, e.g. E=e_ref,F=dnde "
        "(the file is then read as a plain-text table; other formats define their column names)",
    )
    if isolate:
        parser.add_argument(
            "--isolate",
            type=_seconds,
            metavar="SECONDS",
            help="read the file first in a separate, confined process (this many CPU seconds from when it "
            "is ready, finite, > 0; memory capped from the read budget), and refuse it if that process is "
            "killed or runs out of time or memory (for files from elsewhere)",
        )


def _read_options(args: argparse.Namespace, *paths: str) -> dict:
    """The options of :func:`fluxds.read` from the command line; with ``--columns``, ``format="ascii"``
    when no input has a format fluxds can tell (a plain-text table)."""
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
    return options


def _parser() -> argparse.ArgumentParser:
    from fluxds.parallel import DEFAULT_CONNECT_TIMEOUT

    parser = _Parser(prog="fluxds", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="summarise a file")
    info.add_argument("file")
    _add_read_options(info)
    conv = sub.add_parser("convert", help="convert a file to another format or SED type")
    conv.add_argument("input")
    conv.add_argument("output")
    _add_read_options(conv)
    conv.add_argument("--sed-type", choices=schema.FILE_SED_TYPES)
    conv.add_argument("--format", type=_write_format, help="output format (default: from the file name)")
    conv.add_argument("--overwrite", action="store_true", help="replace an existing output")
    many = sub.add_parser("batch", help="convert many files in parallel (dask)")
    many.add_argument("inputs", nargs="+", metavar="INPUT")
    many.add_argument("--out", required=True, help="output directory")
    many.add_argument("--to", choices=["netcdf", "zarr", "fits"], default="netcdf")
    many.add_argument("--sed-type", choices=schema.FILE_SED_TYPES)
    many.add_argument("--scheduler", type=_scheduler, help="address of a dask.distributed scheduler")
    many.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=DEFAULT_CONNECT_TIMEOUT,
        metavar="SECONDS",
        help="give up on --scheduler if it does not answer in this time "
        f"(default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    many.add_argument(
        "--workers", type=_workers, help="start a local dask.distributed cluster of N processes"
    )
    many.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_read_options(many, isolate=False)
    many.add_argument(
        "--isolate",
        type=_seconds,
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
    plot.add_argument("-o", "--output", type=_image, required=True, help="image file (.png, .pdf, .svg)")
    plot.add_argument(
        "--kind",
        choices=["sed", "profiles", "lightcurve", "grid"],
        help="default: grid for a sky map, lightcurve with a time dimension, else sed",
    )
    plot.add_argument(
        "--sed-type",
        choices=_PLOT_QUANTITIES,
        help="dnde, e2dnde, flux, eflux, likelihood (grids: also sqrt_ts, ts)",
    )
    plot.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_read_options(plot)
    # --- end plot ---
    return parser


def _existing_input(path: str) -> None:
    if not os.path.lexists(path):
        raise UsageError(f"{_value(path)}: no such file or folder")


def _writable_output(path: str, *, folder: bool = False, inputs: Sequence[str] = ()) -> None:
    """Refuse an output path that cannot be written as asked, before anything is read: its parent folder
    missing, not a folder or not writable; an existing folder where a file goes (unless a zarr store);
    an existing file where a folder goes; one of the inputs."""
    target = Path(path)
    shown = _value(path)
    if folder:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{shown}: exists and is not a folder")
        if target.is_dir():
            if not os.access(target, os.W_OK | os.X_OK):
                raise UsageError(f"{shown}: folder not writable")
            return
    elif target.is_dir() and not any((target / marker).exists() for marker in _ZARR_MARKERS):
        raise UsageError(f"{shown}: is a folder (and not a zarr store); give the name of the output file")
    for source in inputs:
        if os.path.lexists(source) and os.path.lexists(path) and os.path.samefile(source, path):
            raise UsageError(f"{shown}: is the input itself; write to another name")
    parent = target.absolute().parent
    if folder:  # created with its parents: the nearest existing ancestor must be a writable folder
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{shown}: {_value(parent)} is not a folder")
    if not parent.is_dir():
        raise UsageError(f"{shown}: folder {_value(parent)} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: folder {_value(parent)} is not writable")


@contextlib.contextmanager
def _writing(path: str):
    """An OSError while writing ``path`` that says the place cannot be written (a missing or read-only
    folder, one the system refuses such as /proc) as a usage error naming it; other write failures (a
    full disk) stay failures (exit status 1)."""
    from fluxds.errors import FluxdsError

    try:
        yield
    except OSError as exc:
        if exc.errno not in _PATH_ERRNOS:
            raise  # OverwriteError (a FileExistsError without errno), a full disk ...
        if isinstance(exc, FluxdsError):  # names the file and the cause already
            raise UsageError(str(exc)) from None
        raise UsageError(f"cannot write {_value(path)}: {exc.strerror or exc}") from None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    say(warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n"), err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 done, 1 a file refused or a conversion failed,
    2 a usage error; the message on stderr as ``fluxds: error: ...``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.showwarning = _show_warning
            try:
                args = _parser().parse_args(argv)
            except SystemExit as exc:
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            return _dispatch(args)
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            say("fluxds: interrupted", err=True)
        return 130


def _quiet_stdout() -> None:
    """The reader of stdout has gone (``| head -1``): send what is left to /dev/null, so that the
    interpreter's final flush does not complain."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _dispatch(args: argparse.Namespace) -> int:
    import fluxds
    from fluxds.parallel import BatchError

    try:
        return _command(args)
    except UsageError as exc:
        say(f"fluxds: error: {exc}", err=True)
        return 2
    except BatchError as exc:  # colliding output names, output folder, scheduler: nothing converted
        say(f"fluxds: error: {exc}", err=True)
        return 2
    except fluxds.OverwriteError as exc:
        say(f"fluxds: error: {exc}".replace("pass overwrite=True", "pass --overwrite"), err=True)
        return 1
    except fluxds.MissingEnergyEdgesError as exc:
        message = str(exc).replace("read or build it with derive_edges=True", "pass --derive-edges")
        say(f"fluxds: error: {message}", err=True)
        return 1
    except fluxds.FluxdsError as exc:
        say(f"fluxds: error: {exc}", err=True)
        return 1
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except OSError as exc:
        where = f"{_value(exc.filename)}: " if exc.filename else ""
        say(f"fluxds: error: {where}{exc.strerror or exc}", err=True)
        return 1
    except Exception as exc:
        if os.environ.get("FLUXDS_TRACEBACK"):
            raise
        say(
            f"fluxds: error: unexpected {type(exc).__name__}: {exc} (a fluxds bug: please report it; "
            "FLUXDS_TRACEBACK=1 shows where)",
            err=True,
        )
        return 1


def _command(args: argparse.Namespace) -> int:
    import fluxds

    if args.command == "info":
        _existing_input(args.file)
        ds = fluxds.read(args.file, **_read_options(args, args.file))
        for line in info_text(ds, args.file).split("\n"):
            say(line)  # each line fluxds's own, its values escaped completely
    elif args.command == "convert":
        _existing_input(args.input)
        _writable_output(args.output, inputs=[args.input])
        likelihood_only = args.format in ("netcdf", "zarr") or (
            args.format is None and args.output.lower().endswith((".nc", ".zarr"))
        )
        if likelihood_only and args.sed_type not in (None, "likelihood"):
            raise UsageError(
                f"{_value(args.output)}: netCDF/zarr hold the likelihood form; --sed-type {args.sed_type} "
                "needs a FITS or ECSV output"
            )
        ds = fluxds.read(args.input, **_read_options(args, args.input))
        with _writing(args.output):
            ds.sed.write(args.output, format=args.format, sed_type=args.sed_type, overwrite=args.overwrite)
        say(f"wrote {_value(args.output)}")
    elif args.command == "batch":
        return _batch(args)
    elif args.command == "plot":  # --- plot ---
        from fluxds.plotting.command import plot_file

        _existing_input(args.file)
        _writable_output(args.output, inputs=[args.file])
        with _writing(args.output):
            kind = plot_file(
                args.file,
                args.output,
                kind=args.kind,
                sed_type=args.sed_type,
                overwrite=args.overwrite,
                read_options=_read_options(args, args.file),
            )
        say(f"wrote {_value(args.output)} ({kind} plot)")
    elif args.command == "demo":
        from fluxds.demo import run_demo

        _writable_output(args.out, folder=True)
        printed = io.StringIO()
        try:
            with _writing(args.out), contextlib.redirect_stdout(printed):
                run_demo(args.out)
        finally:
            for line in printed.getvalue().rstrip("\n").split("\n"):
                say(line)
    return 0


def _check_batch_paths(args: argparse.Namespace) -> None:
    missing = [path for path in args.inputs if not os.path.lexists(path)]
    if missing:
        raise UsageError(
            f"{len(missing)} inputs do not exist (nothing converted): {', '.join(map(_value, missing))}"
        )
    _writable_output(args.out, folder=not args.combine, inputs=args.inputs)


def _batch(args: argparse.Namespace) -> int:
    from fluxds.parallel import batch

    _check_batch_paths(args)
    if not args.combine and args.to != "fits" and args.sed_type not in (None, "likelihood"):
        raise UsageError(
            f"--to {args.to} holds the likelihood form; --sed-type {args.sed_type} needs --to fits"
        )
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
        connect_timeout=args.connect_timeout,
        read_options={k: v for k, v in _read_options(args, *args.inputs).items() if k != "isolate"},
    )
    say(f"written {len(result.written)}, skipped {len(result.skipped)} (exist), failed {len(result.failed)}")
    for source, message in result.failed.items():
        say(f"fluxds: error: {_value(source)}: {message}", err=True)
    return 0 if result.ok else 1


def _combine(args: argparse.Namespace) -> int:
    from fluxds.concat import concat_files

    if args.sed_type not in (None, "likelihood"):
        raise UsageError(f"--combine writes netCDF/zarr (likelihood form), not --sed-type {args.sed_type}")
    to = None if args.to == "netcdf" and args.out.endswith(".zarr") else args.to
    with _writing(args.out):
        result = concat_files(
            args.inputs,
            args.out,
            dim=args.combine,
            to=to,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.no_progress,
            isolate=args.isolate,
            read_options={k: v for k, v in _read_options(args, *args.inputs).items() if k != "isolate"},
        )
    if result.skipped:
        say(f"{_value(args.out)} exists: skipped")
    elif result.written:
        say(f"wrote {_value(args.out)} ({len(args.inputs)} inputs along {args.combine})")
    for source, message in result.failed.items():
        say(f"fluxds: error: {_value(source)}: {message}", err=True)
    if result.failed:
        say(f"fluxds: error: {len(result.failed)} inputs failed; {_value(args.out)} not written", err=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
