"""The ``batch`` subcommand: many inputs converted in parallel, or combined into one Dataset
(``--combine``)."""

from __future__ import annotations

import argparse
import os

from fluxds.cli.paths import writable_output, writing
from fluxds.cli.printing import escaped, say
from fluxds.cli.read_options import read_options
from fluxds.cli.usage_error import UsageError

__all__ = ["run_batch"]


def _check_batch_paths(args: argparse.Namespace) -> None:
    missing = [path for path in args.inputs if not os.path.lexists(path)]
    if missing:
        raise UsageError(
            f"{len(missing)} inputs do not exist (nothing converted): {', '.join(map(escaped, missing))}"
        )
    writable_output(args.out, folder=not args.combine, inputs=args.inputs)


def run_batch(args: argparse.Namespace) -> int:
    """Run ``fluxds batch`` (``args``: the parsed command line); returns its exit status (1 if an input
    failed)."""
    from fluxds.parallel import batch

    _check_batch_paths(args)
    if not args.combine and args.to != "fits" and args.sed_type not in (None, "likelihood"):
        raise UsageError(
            f"--to {args.to} holds the likelihood form; --sed-type {args.sed_type} needs --to fits"
        )
    if args.combine:
        if args.no_fsync:
            raise UsageError("--no-fsync applies to one output per input, not to --combine")
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
        read_options={k: v for k, v in read_options(args, *args.inputs).items() if k != "isolate"},
        fsync=not args.no_fsync,
    )
    say(f"written {len(result.written)}, skipped {len(result.skipped)} (exist), failed {len(result.failed)}")
    for source, message in result.failed.items():
        say(f"fluxds: error: {escaped(source)}: {message}", err=True)
    return 0 if result.ok else 1


def _combine(args: argparse.Namespace) -> int:
    from fluxds.concat import concat_files

    if args.sed_type not in (None, "likelihood"):
        raise UsageError(f"--combine writes netCDF/zarr (likelihood form), not --sed-type {args.sed_type}")
    to = None if args.to == "netcdf" and args.out.endswith(".zarr") else args.to
    with writing(args.out):
        result = concat_files(
            args.inputs,
            args.out,
            dim=args.combine,
            to=to,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.no_progress,
            isolate=args.isolate,
            read_options={k: v for k, v in read_options(args, *args.inputs).items() if k != "isolate"},
        )
    if result.skipped:
        say(f"{escaped(args.out)} exists: skipped")
    elif result.written:
        say(f"wrote {escaped(args.out)} ({len(args.inputs)} inputs along {args.combine})")
    for source, message in result.failed.items():
        say(f"fluxds: error: {escaped(source)}: {message}", err=True)
    if result.failed:
        say(f"fluxds: error: {len(result.failed)} inputs failed; {escaped(args.out)} not written", err=True)
    return 0 if result.ok else 1
