"""Running a parsed command line and turning its errors into ``fluxds: error: ...`` lines and exit
statuses: 2 a usage error, 1 a file refused or a conversion failed (see :mod:`fluxds.cli`)."""

from __future__ import annotations

import argparse
import os

from fluxds.cli.commands import run_command
from fluxds.cli.printing import escaped, say
from fluxds.cli.usage_error import UsageError

__all__ = ["dispatch"]


def dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand of ``args``; returns the exit status, an error printed as ``fluxds: error: ...``
    (an unexpected exception too, unless ``FLUXDS_TRACEBACK`` is set; a broken pipe and an interrupt
    propagate)."""
    import fluxds
    from fluxds.parallel import BatchError

    try:
        return run_command(args)
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
        where = f"{escaped(exc.filename)}: " if exc.filename else ""
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
