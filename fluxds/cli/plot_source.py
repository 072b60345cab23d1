"""``fluxds plot FILE --source NAME``: one source of a catalog, of a Dataset of several sources or of a
collection, drawn as :func:`fluxds.plotting.command.plot_file` draws a whole file (the same kinds and
default quantities), titled with the source's name; the SED of a catalog source with the catalog's own
spectral model as a curve."""

from __future__ import annotations

import os
from pathlib import Path

from fluxds.cli.printing import escaped
from fluxds.cli.sources import one_source
from fluxds.cli.usage_error import UsageError

__all__ = ["plot_source"]

_DEFAULT_QUANTITY = {"sed": "e2dnde", "profiles": "dnde", "lightcurve": "flux"}
_CURVE_DIMS = ("time", "phase")
_MODEL_QUANTITIES = ("dnde", "e2dnde", "flux", "eflux")


def plot_source(
    path: str | os.PathLike,
    out: str | os.PathLike,
    source: str,
    *,
    kind: str | None = None,
    sed_type: str | None = None,
    overwrite: bool = False,
    dpi: int = 100,
    read_options: dict | None = None,
) -> str:
    """Read ``path``, take the source ``source`` and save its plot to ``out`` atomically; returns the kind
    drawn (``sed``, ``lightcurve`` or ``profiles``).

    Raises
    ------
    UsageError
        No source of that name (close names suggested), no sources in the file, or ``kind="grid"``.
    FluxdsError
        What :func:`fluxds.read` and the plotting functions raise.
    """
    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state touched

    import fluxds
    from fluxds.construct import ORIGIN_GIVEN
    from fluxds.errors import FluxdsError
    from fluxds.io.output.atomic import atomic_path
    from fluxds.plotting.command import choose_kind

    ds = fluxds.read(path, **(read_options or {}))
    one = one_source(ds, source, str(path))
    kind = kind or choose_kind(one)
    if kind not in _DEFAULT_QUANTITY:
        raise UsageError(
            f"--source {escaped(source)}: draws an SED, a light curve or profiles, not --kind {kind}"
        )
    quantity = "norm" if sed_type == "likelihood" else (sed_type or _DEFAULT_QUANTITY[kind])
    suffix = Path(out).suffix.lstrip(".").lower()
    if suffix not in Figure().canvas.get_supported_filetypes():
        raise FluxdsError(f"output {str(out)!r}: unknown image format {suffix!r}; use .png, .pdf or .svg")
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    if kind == "sed":
        model = None
        if one.attrs.get("reference_model_origin") == ORIGIN_GIVEN and quantity in _MODEL_QUANTITIES:
            model = one.sed.reference_model  # the file's own model of this source (a catalog's fit)
            if isinstance(model, dict):
                model = None
        one.sed.plot(quantity, ax=ax, model=model)
    elif kind == "lightcurve":
        dim = next((d for d in _CURVE_DIMS if d in one.dims), "time")
        one.sed.plot_lightcurve(quantity, ax=ax, dim=dim)
    else:
        one.sed.plot_ts_profiles(quantity, ax=ax)
    ax.set_title(f"{source} ({Path(path).name})", fontsize="medium")
    with atomic_path(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format=suffix, dpi=dpi)
    return kind
