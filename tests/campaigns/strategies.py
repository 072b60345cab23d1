"""hypothesis strategies that produce valid fluxds Datasets of every kind: SEDs (one or many sources),
light curves, WCS maps of several projections, HEALPix maps, region profiles; with or without likelihood
scans on per-bin grids; NaN and infinities where the contract allows them; every SED type as
``sed_type_init``; energies in keV/MeV/GeV/TeV/erg; reference models of every kind; long and non-ASCII
text in attributes and source names; GTIs."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.wcs import WCS
from hypothesis import strategies as st

import fluxds
from fluxds.healpix import assign_healpix
from fluxds.io.flux_profile.columns import X_COLUMNS
from fluxds.io.gti import gti_from_columns
from fluxds.timeaxis import time_coords
from fluxds.wcs import assign_wcs

KINDS = ("sed", "sources", "lightcurve", "wcs_map", "healpix_map", "profile", "mixed")
# "mixed": any combination of the optional dimensions (source, region, time; a WCS or HEALPix map; scans;
# a pass-through dimension), in the order DESIGN.md lists them: only netCDF and zarr hold all of them
SED_TYPES = ("likelihood", "dnde", "e2dnde", "flux", "eflux")
ENERGY_UNITS = ("keV", "MeV", "GeV", "TeV", "erg")
PROJECTIONS = ("CAR", "TAN", "AIT", "MOL", "SIN", "ZEA")

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)
value = st.one_of(finite, st.just(float("nan")), st.just(float("inf")), st.just(float("-inf")))
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)


def _array(draw, shape, elements=value) -> np.ndarray:
    size = int(np.prod(shape))
    return np.array(draw(st.lists(elements, min_size=size, max_size=size)), dtype=float).reshape(shape)


@st.composite
def reference_models(draw):
    kind = draw(st.sampled_from(["pl", "lp", "ecpl", "bpl", "template"]))
    amp = 10 ** draw(st.floats(-14, -9)) * u.Unit("cm-2 s-1 TeV-1")
    index = draw(st.floats(1.0, 4.0))
    if kind == "pl":
        return fluxds.models.PowerLaw(index=index, amplitude=amp, reference=1 * u.TeV)
    if kind == "lp":
        return fluxds.models.LogParabola(
            amplitude=amp, reference=1 * u.TeV, alpha=index, beta=draw(st.floats(0, 1))
        )
    if kind == "ecpl":
        cutoff = draw(st.floats(0.01, 1.0)) * u.Unit("TeV-1")
        return fluxds.models.ExpCutoffPowerLaw(
            index=index, amplitude=amp, reference=1 * u.TeV, lambda_=cutoff
        )
    if kind == "bpl":
        return fluxds.models.BrokenPowerLaw(
            index1=index,
            index2=index + draw(st.floats(0, 2)),
            amplitude=amp,
            ebreak=draw(st.floats(0.5, 5)) * u.TeV,
        )
    energies = np.geomspace(1e-4, 1e4, draw(st.integers(3, 12))) * u.TeV
    values = amp * (energies / u.TeV).value ** -index
    return fluxds.models.Template(energy=energies, values=values)


@st.composite
def energy_edges(draw, n: int):
    unit = draw(st.sampled_from(ENERGY_UNITS))
    steps = draw(st.lists(st.floats(0.05, 1.0), min_size=n + 1, max_size=n + 1))
    log_edges = np.cumsum(steps) - 1.5  # log10 TeV, inside the templates' range
    edges = (10**log_edges * u.TeV).to(unit)
    return edges[:-1], edges[1:]


def _header(draw, ny: int, nx: int) -> WCS:
    w = WCS(naxis=2)
    frame = draw(st.sampled_from(["galactic", "icrs"]))
    proj = draw(st.sampled_from(PROJECTIONS))
    w.wcs.ctype = (
        [f"GLON-{proj}", f"GLAT-{proj}"] if frame == "galactic" else [f"RA---{proj}", f"DEC--{proj}"]
    )
    step = draw(st.floats(0.01, 0.5))
    w.wcs.cdelt = [-step, step]
    w.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
    w.wcs.crval = [draw(st.floats(0, 359)), draw(st.floats(-60, 60))]
    return w


@st.composite
def datasets(draw, kinds=KINDS, scans: bool = True):
    """(kind, Dataset): a valid fluxds Dataset of one of ``kinds``."""
    kind = draw(st.sampled_from(kinds))
    n_e = draw(st.integers(1, 4))
    lo, hi = draw(energy_edges(n_e))
    if kind == "mixed":
        present = draw(st.sets(st.sampled_from(["phase", "source", "region", "time"])))
        spatial = draw(st.sampled_from([None, "wcs_map", "healpix_map"]))
    else:
        present = {"sources": {"source"}, "lightcurve": {"time"}, "profile": {"region"}}.get(kind, set())
        spatial = kind if kind in ("wcs_map", "healpix_map") else None
    lead: dict[str, int] = {}
    for dim, most in (("phase", 2), ("source", 3), ("region", 4), ("time", 4)):
        if dim in present:
            lead[dim] = draw(st.integers(1, 3 if kind == "mixed" else most))
    tail: dict[str, int] = {}
    if spatial == "wcs_map":
        tail = {"lat": draw(st.integers(1, 4)), "lon": draw(st.integers(1, 4))}
    elif spatial == "healpix_map":
        tail = {"pixel": draw(st.integers(1, 6))}
    dims = (*lead, "energy", *tail)
    shape = tuple({**lead, "energy": n_e, **tail}.values())
    norm = _array(draw, shape)
    columns = {
        "norm_err": np.abs(_array(draw, shape)),
        "ts": np.abs(_array(draw, shape, finite)),
        "is_ul": np.array(draw(st.lists(st.booleans(), min_size=norm.size, max_size=norm.size))).reshape(
            shape
        ),
    }
    if draw(st.booleans()):
        columns["norm_errp"] = np.abs(_array(draw, shape))
        columns["norm_errn"] = np.abs(_array(draw, shape))
    if draw(st.booleans()):
        columns["norm_ul"] = _array(draw, shape)
    if scans and kind in ("sed", "sources", "lightcurve", "profile", "mixed") and draw(st.booleans()):
        n_scan = draw(st.integers(2, 6))
        # per-bin grids: each bin scans its own norms
        grid = np.sort(_array(draw, (*shape, n_scan), finite), axis=-1)
        columns["norm_scan"] = grid
        columns["stat_scan"] = np.abs(_array(draw, (*shape, n_scan), finite))
        columns["stat"] = np.abs(_array(draw, shape, finite))
    coords: dict = {}
    if "source" in lead:
        names = draw(st.lists(text, min_size=lead["source"], max_size=lead["source"], unique=True))
        coords["source"] = names
    if "phase" in lead:
        coords["phase"] = ("phase", np.linspace(0, 1, lead["phase"], endpoint=False), {"long_name": "phase"})
    if "region" in lead:
        x = np.cumsum(
            draw(st.lists(st.floats(0.01, 1), min_size=lead["region"] + 1, max_size=lead["region"] + 1))
        )
        coords["region"] = ("region", [f"r{i}" for i in range(lead["region"])], {"long_name": "region name"})
        for name, values in (("x_min", x[:-1]), ("x_max", x[1:]), ("x_ref", 0.5 * (x[:-1] + x[1:]))):
            coords[name] = ("region", values, {"units": "degree", "long_name": X_COLUMNS[name]})
    attrs = {"target": draw(text), "creator": "fluxds hypothesis strategies ✓ αβγ"}
    ul_conf = draw(st.one_of(st.none(), st.floats(0.5, 0.999)))
    ds = fluxds.from_likelihood(
        norm,
        energy_min=lo,
        energy_max=hi,
        reference_model=draw(reference_models()),
        dims=dims,
        coords=coords,
        attrs=attrs,
        **({"ul_conf": ul_conf} if ul_conf is not None else {}),
        **columns,
    )
    ds.attrs["sed_type_init"] = draw(st.sampled_from(SED_TYPES))
    if "time" in lead:
        n_t = lead["time"]
        starts = 55000 + np.cumsum(draw(st.lists(st.floats(0.01, 10), min_size=n_t, max_size=n_t)))
        widths = np.array(draw(st.lists(st.floats(0.001, 0.009), min_size=n_t, max_size=n_t)))
        scale = draw(st.sampled_from(["tt", "utc", "tdb"]))
        ds = ds.assign_coords(time_coords(time_min=starts, time_max=starts + widths, unit="d", scale=scale))
        if draw(st.booleans()):
            gti = (starts - 55000) * 86400.0
            ds = ds.merge(
                gti_from_columns(gti, gti + 10.0, unit="s", mjdrefi=55000, mjdreff=0, timesys=scale, where="")
            )
    if spatial == "wcs_map":
        ds = assign_wcs(ds, _header(draw, tail["lat"], tail["lon"]))
    if spatial == "healpix_map":
        nside = draw(st.sampled_from([1, 2, 4, 64]))
        pixels = np.sort(draw(st.lists(st.integers(0, 12 * nside**2 - 1), min_size=tail["pixel"],
                                       max_size=tail["pixel"], unique=True)))  # fmt: skip
        ds = ds.assign_coords(pixel=pixels)
        ds = assign_healpix(
            ds,
            nside,
            order=draw(st.sampled_from(["nested", "ring"])),
            frame=draw(st.sampled_from(["icrs", "galactic"])),
        )
    return kind, ds
