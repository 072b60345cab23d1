"""Collections: flux points of several members (sources, papers, instruments) whose bins differ.

A fluxds Dataset on one grid has one set of bins shared by everything along ``source`` (or ``region``,
``dataset`` ...). Published results do not share bins: a catalog gives each source its own SED points, a
compilation puts 20 papers' points on one energy axis, light curves of several sources have their own
time bins. fluxds holds them as a **collection**: the points of every member one after the other along
the binned dimension (``energy``, ``time`` or ``phase``), with a **member label** — a 1-D text
coordinate along that dimension (``source``, ``paper``, ``instrument`` ...) — naming the member of each
point. Everything per point (every quantity, conversion, upper limit, profile, joint fit, writer row)
works unchanged; what needs ordered bins (deriving edges, resampling, the strictly increasing check)
works member by member. See ``docs/data_model.md`` ("Collections").

>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset(coords={"energy": ("energy", [1.0, 2.0, 1.5]),
...                         "paper": ("energy", ["hess", "hess", "magic"])})
>>> member_label(ds, "energy")
'paper'
>>> members(ds)
['hess', 'magic']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import SchemaError

__all__ = [
    "BINNED_DIMS",
    "member_label",
    "labels_as_text",
    "label_first",
    "is_collection",
    "members",
    "member_codes",
    "member",
    "not_increasing_within_members",
    "stack_members",
    "collection_from_grid",
    "select",
    "refuse_collection",
    "fill_missing",
]

# dimensions whose points may come from several members (one member label along each)
BINNED_DIMS = ("energy", "time", "phase")
# coordinates along a binned dimension that are bins, not labels
_BIN_COORDS = {
    "energy",
    "energy_min",
    "energy_max",
    "time",
    "time_min",
    "time_max",
    "phase",
    "phase_min",
    "phase_max",
}


def _is_text(values: np.ndarray) -> bool:
    return values.dtype.kind in "USO" and (
        values.dtype.kind != "O" or all(isinstance(v, str) for v in values.ravel()[:64])
    )


def member_label(ds: xr.Dataset, dim: str | None = None) -> str | None:
    """The name of the member label along a binned dimension, or None on a single grid.

    Parameters
    ----------
    ds : xarray.Dataset
    dim : str, optional
        ``"energy"``, ``"time"`` or ``"phase"``; default: the first of them that carries a label.

    Returns
    -------
    str or None
        The first 1-D text coordinate along ``dim`` that is not a bin coordinate (``source``, ``paper``
        ...).
    """
    dims = [dim] if dim is not None else [d for d in BINNED_DIMS if d in ds.dims]
    for d in dims:
        for name in ds.coords:  # Variables, not DataArrays: cheap on every read and concatenation
            coord = ds.variables[name]
            if name in _BIN_COORDS or coord.dims != (d,) or coord.dtype.kind not in "USO":
                continue
            if _is_text(np.asarray(coord.values)):
                return str(name)
    return None


def labels_as_text(ds: xr.Dataset) -> xr.Dataset:
    """The member labels (1-D text coordinates along ``energy``, ``time`` or ``phase``) as numpy ``str``
    arrays: netCDF gives variable-length text back as Python objects; fluxds's labels are ``str``
    whatever the file. Other variables unchanged; ``ds`` itself when there is nothing to convert.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    xarray.Dataset
    """
    found = {}
    for name, coord in ds.coords.items():
        if (
            name not in _BIN_COORDS
            and coord.ndim == 1
            and coord.dims[0] in BINNED_DIMS
            and coord.dtype.kind == "O"
            and _is_text(np.asarray(coord.values))
        ):
            found[name] = coord.copy(data=np.asarray(coord.values).astype(str))
    return ds.assign_coords(found) if found else ds


def label_first(ds: xr.Dataset, label: str) -> xr.Dataset:
    """``ds`` with the coordinate ``label`` first among its coordinates, so that it is the member label
    (:func:`member_label` takes the first text coordinate along the dimension); other labels (a
    ``paper`` beside the ``source``) stay as coordinates.

    Parameters
    ----------
    ds : xarray.Dataset
    label : str

    Returns
    -------
    xarray.Dataset
    """
    names = list(ds.coords)
    if not names or names[0] == label:
        return ds
    coords = {label: ds[label].variable, **{k: ds[k].variable for k in names if k != label}}
    return xr.Dataset({k: v.variable for k, v in ds.data_vars.items()}, coords=coords, attrs=ds.attrs)


def _binned_dim(ds: xr.Dataset, label: str) -> str:
    return ds[label].dims[0]


def is_collection(ds: xr.Dataset) -> bool:
    """Whether a Dataset holds the points of several members along a binned dimension (a member label
    along ``energy``, ``time`` or ``phase``)."""
    return member_label(ds) is not None


def members(ds: xr.Dataset, label: str | None = None) -> list[str]:
    """The members of a collection, in order of first appearance (empty on a single grid).

    Parameters
    ----------
    ds : xarray.Dataset
    label : str, optional
        The member label; default :func:`member_label`.

    Returns
    -------
    list of str
    """
    label = label or member_label(ds)
    if label is None:
        return []
    names, first = np.unique(np.asarray(ds[label].values).astype(str), return_index=True)
    return [str(n) for n in names[np.argsort(first)]]


def member_codes(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """An integer per point naming its member (equal labels, equal codes), vectorised.

    Parameters
    ----------
    values : array-like of str

    Returns
    -------
    numpy.ndarray of int64
    """
    _, codes = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return codes.astype(np.int64).reshape(-1)


def not_increasing_within_members(values: np.ndarray, codes: np.ndarray) -> int | None:
    """The first position (in the given order) where a value does not increase strictly over the previous
    point of the same member, or None when every member's points increase.

    Parameters
    ----------
    values : numpy.ndarray
        1-D numbers (energies, times).
    codes : numpy.ndarray
        :func:`member_codes` of the same points.

    Returns
    -------
    int or None
    """
    order = np.argsort(codes, kind="stable")  # each member's points together, in their order
    v, c = values[order], codes[order]
    bad = np.flatnonzero((c[1:] == c[:-1]) & ~(np.diff(v) > 0))
    return None if not len(bad) else int(order[bad[0] + 1])


def member(ds: xr.Dataset, name: str, label: str | None = None) -> xr.Dataset:
    """One member of a collection as a Dataset on its own grid (its label kept as a scalar coordinate).

    Parameters
    ----------
    ds : xarray.Dataset
    name : str
        The member (a source name, a paper ...).
    label : str, optional
        The member label; default :func:`member_label`.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    SchemaError
        Not a collection, or no member called ``name``.
    """
    label = label or member_label(ds)
    if label is None:
        raise SchemaError("not a collection: no member label along energy, time or phase")
    dim = _binned_dim(ds, label)
    keep = np.asarray(ds[label].values).astype(str) == str(name)
    if not keep.any():
        raise SchemaError(f"no member {name!r} in {label!r}; members: {members(ds, label)}")
    one = ds.isel({dim: np.flatnonzero(keep)})
    return one.assign_coords({label: str(name)})


def collection_from_grid(ds: xr.Dataset, member_dim: str = "source", dim: str = "energy") -> xr.Dataset:
    """A grid with a member dimension (e.g. ``(source, energy)``) as a collection: every member's points
    along ``dim``, labelled by ``member_dim``; points whose bin coordinates are NaN (padding) dropped.

    Parameters
    ----------
    ds : xarray.Dataset
        With dimensions ``member_dim`` and ``dim``; the bin coordinates may be 1-D along ``dim`` (shared
        bins) or 2-D ``(member_dim, dim)`` (each member's own bins, NaN-padded).
    member_dim : str
    dim : str
        ``"energy"``, ``"time"`` or ``"phase"``.

    Returns
    -------
    xarray.Dataset
        ``dim`` holds ``ds.sizes[member_dim] x ds.sizes[dim]`` points minus the padding; the label
        ``member_dim`` and every coordinate that lay along ``member_dim`` alone (positions ...) lie along
        ``dim``.
    """
    if member_dim not in ds.dims or dim not in ds.dims:
        raise SchemaError(
            f"collection_from_grid needs dimensions {member_dim!r} and {dim!r}; has {dict(ds.sizes)}"
        )
    n_members, n_bins = ds.sizes[member_dim], ds.sizes[dim]
    if dim not in ds.coords:
        raise SchemaError(f"no {dim!r} coordinate to take the bins from")

    def flat(var: xr.Variable) -> xr.Variable:
        if member_dim not in var.dims and dim not in var.dims:
            return var
        missing = {d: n for d, n in ((member_dim, n_members), (dim, n_bins)) if d not in var.dims}
        var = var.set_dims({**missing, **dict(var.sizes)}) if missing else var
        rest = [d for d in var.dims if d not in (member_dim, dim)]
        var = var.transpose(member_dim, dim, *rest)
        data = var.data.reshape((n_members * n_bins, *var.shape[2:]))
        return xr.Variable((dim, *rest), data, var.attrs, var.encoding)

    names = np.asarray(ds[member_dim].values).astype(str) if member_dim in ds.coords else None
    variables = {name: flat(var) for name, var in ds.variables.items() if name not in (member_dim, dim)}
    energies = flat(ds[dim].variable)
    variables[dim] = energies
    if names is not None:
        variables[member_dim] = xr.Variable(dim, np.repeat(names, n_bins))
    coord_names = {str(c) for c in ds.coords} | {member_dim}
    out = xr.Dataset(
        {k: v for k, v in variables.items() if k not in coord_names},
        coords={k: v for k, v in variables.items() if k in coord_names},
        attrs=ds.attrs,
    )
    values = np.asarray(energies.values)
    keep = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    return out.isel({dim: np.flatnonzero(keep)})


def fill_missing(pieces: list[xr.Dataset], dim: str) -> list[xr.Dataset]:
    """Every variable and coordinate along ``dim`` that some parts have, added to the parts that lack it:
    NaN for numbers (with the present part's attributes; an integer coordinate becomes float), ``""`` for
    text; a boolean or integer data variable cannot be filled and is refused by name."""
    found: dict[str, xr.Variable] = {}
    for part in pieces:
        for name, var in part.variables.items():
            if dim in var.dims and name not in found:
                found[str(name)] = var
    out = []
    for part in pieces:
        add_vars, add_coords = {}, {}
        for name, var in found.items():
            if name in part.variables:
                continue
            shape = tuple(part.sizes[d] if d == dim else var.sizes[d] for d in var.dims)
            is_coord = any(name in p.coords for p in pieces)
            if var.dtype.kind in "USO":
                data = np.full(shape, "", dtype=object)
            elif var.dtype.kind in "fc":
                data = np.full(shape, np.nan, dtype=var.dtype)
            elif var.dtype.kind in "iu" and is_coord:  # an id: the members that lack it get NaN (float)
                data = np.full(shape, np.nan)
            else:
                raise SchemaError(
                    f"some inputs have the variable {name!r} ({var.dtype}) and others do not; it cannot be "
                    "marked as not given (numbers are NaN, text empty): drop it or give it to every input"
                )
            target = add_coords if is_coord else add_vars
            target[name] = xr.Variable(var.dims, data, var.attrs)
        out.append(part.assign_coords(add_coords).assign(add_vars) if add_vars or add_coords else part)
    return out


def stack_members(
    parts: Mapping[str, xr.Dataset] | Sequence[xr.Dataset],
    *,
    label: str = "source",
    dim: str = "energy",
) -> xr.Dataset:
    """Several Datasets (one member each, any bins) as one collection along ``dim``.

    Parameters
    ----------
    parts : mapping of name to Dataset, or sequence of Datasets
        One Dataset per member; a sequence takes each member's name from its scalar ``label``
        coordinate. A part that is itself a collection keeps its own labels.
    label : str
        The member label (``source``, ``paper``, ``instrument`` ...).
    dim : str
        The binned dimension the points lie along.

    Returns
    -------
    xarray.Dataset
        Variables and coordinates without ``dim`` (positions, fit results) are broadcast along it;
        attributes that differ between parts are dropped, except the reference models, kept by member
        as ``{"by_source": {name: model}}`` JSON when they differ.

    Raises
    ------
    SchemaError
        No parts, a part without ``dim`` or without a name, or duplicate member names.
    """
    import json

    if isinstance(parts, Mapping):
        named = [(str(k), v) for k, v in parts.items()]
    else:
        named = []
        for i, part in enumerate(parts):
            if label not in part.coords or part[label].ndim not in (0, 1):
                raise SchemaError(f"part {i} has no scalar {label!r} coordinate to name its member")
            named.append((None if part[label].ndim else str(part[label].values), part))
    if not named:
        raise SchemaError("no Datasets to stack")
    names = [n for n, _ in named if n is not None]
    if len(set(names)) != len(names):
        raise SchemaError(f"duplicate member names: {sorted({n for n in names if names.count(n) > 1})}")
    pieces = []
    for name, part in named:
        if dim not in part.dims:
            raise SchemaError(f"member {name!r} has no {dim!r} dimension")
        if name is not None:
            part = part.drop_vars(label, errors="ignore")
            part = part.assign_coords({label: (dim, np.full(part.sizes[dim], name, dtype=object))})
        pieces.append(part)
    pieces = fill_missing(pieces, dim)
    models = {n: p.attrs.get("reference_model") for n, p in named if n is not None}
    joined = xr.concat(
        [p.reset_index(dim) if dim in p.indexes else p for p in pieces],
        dim=dim,
        data_vars="different",
        coords="different",
        compat="equals",
        join="outer",
        combine_attrs="drop_conflicts",
    )
    joined = joined.assign_coords({label: (dim, np.asarray(joined[label].values).astype(str))})
    if dim in joined.coords and dim not in joined.indexes:
        joined = joined.set_xindex(dim)
    joined = label_first(joined, label)
    if len({m for m in models.values()}) > 1:
        joined.attrs["reference_model"] = json.dumps(
            {"by_source": {n: json.loads(m) for n, m in models.items() if m}}
        )
    return joined.transpose(*schema.canonical_dims(joined.dims))


def _source_mask(ds: xr.Dataset, names: Sequence[str]) -> tuple[str, np.ndarray]:
    wanted = np.asarray([str(n) for n in names])
    if "source" in ds.dims:
        return "source", np.isin(np.asarray(ds["source"].values).astype(str), wanted)
    if "source" in ds.coords and ds["source"].ndim == 1:
        return ds["source"].dims[0], np.isin(np.asarray(ds["source"].values).astype(str), wanted)
    raise SchemaError("no 'source' dimension or member label to select by source name")


def _positions(ds: xr.Dataset):
    from astropy.coordinates import SkyCoord

    for lon, lat, frame in (("ra", "dec", "icrs"), ("glon", "glat", "galactic")):
        if lon in ds.coords and lat in ds.coords and ds[lon].dims == ds[lat].dims and ds[lon].ndim == 1:
            unit_lon = ds[lon].attrs.get("units", "deg")
            unit_lat = ds[lat].attrs.get("units", "deg")
            import astropy.units as u

            sky = SkyCoord(
                np.asarray(ds[lon].values) * u.Unit(unit_lon),
                np.asarray(ds[lat].values) * u.Unit(unit_lat),
                frame=frame,
            )
            return ds[lon].dims[0], sky
    raise SchemaError(
        "no sky positions to select by region: expected 1-D coordinates ra/dec (or glon/glat) along "
        "'source' or a member label's dimension"
    )


def _region_mask(ds: xr.Dataset, region) -> tuple[str, np.ndarray]:
    dim, sky = _positions(ds)
    if isinstance(region, tuple) and len(region) == 2:  # a cone: (centre, radius)
        import astropy.units as u
        from astropy.coordinates import Angle

        centre, radius = region
        return dim, np.asarray(sky.separation(centre) <= Angle(radius, u.deg))
    if hasattr(region, "contains"):  # a regions SkyRegion: needs a WCS to test sky positions
        from astropy.wcs import WCS

        wcs = WCS(naxis=2)
        center = getattr(region, "center", sky[0])
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"] if sky.frame.name == "icrs" else ["GLON-TAN", "GLAT-TAN"]
        center = center.transform_to(sky.frame)
        wcs.wcs.crval = [center.spherical.lon.deg, center.spherical.lat.deg]
        wcs.wcs.crpix = [0.0, 0.0]
        wcs.wcs.cdelt = [-0.01, 0.01]
        return dim, np.asarray(region.contains(sky, wcs))
    raise SchemaError(
        "region must be a cone (centre SkyCoord, radius Angle or degrees) or a regions SkyRegion, "
        f"not {type(region).__name__}"
    )


def _time_mask(ds: xr.Dataset, time) -> tuple[str, np.ndarray]:
    from astropy.time import Time

    from fluxds.timeaxis import astropy_time

    start, stop = time
    start = start if isinstance(start, Time) else Time(start, format="mjd", scale="tt")
    stop = stop if isinstance(stop, Time) else Time(stop, format="mjd", scale="tt")
    if "time_min" in ds.coords and "time_max" in ds.coords:
        lo, hi = astropy_time(ds, "time_min"), astropy_time(ds, "time_max")
        return ds["time_min"].dims[0], np.asarray((lo >= start) & (hi <= stop))
    if "time" in ds.coords:
        t = astropy_time(ds, "time")
        return ds["time"].dims[0], np.asarray((t >= start) & (t <= stop))
    raise SchemaError("no time bins to select by time range: expected time_min/time_max or time")


def select(
    ds: xr.Dataset,
    *,
    source: str | Sequence[str] | None = None,
    region: Any = None,
    time: tuple[Any, Any] | None = None,
) -> xr.Dataset:
    """The part of a Dataset (a grid or a collection) for some sources, a sky region and a time range.

    Parameters
    ----------
    ds : xarray.Dataset
    source : str or sequence of str, optional
        Source names, along a ``source`` dimension or a ``source`` member label.
    region : tuple or regions.SkyRegion, optional
        A cone ``(centre, radius)`` (``astropy.coordinates.SkyCoord`` and an angle, or degrees) or a
        ``regions`` sky region; needs 1-D ``ra``/``dec`` (or ``glon``/``glat``) coordinates in degrees.
    time : (start, stop), optional
        ``astropy.time.Time`` or MJD numbers (TT): keeps time bins inside ``[start, stop]`` (time
        instants within it).

    Returns
    -------
    xarray.Dataset
        Every criterion given applies (logical and).
    """
    masks: dict[str, np.ndarray] = {}

    def add(dim: str, mask: np.ndarray) -> None:
        masks[dim] = masks[dim] & mask if dim in masks else mask

    if source is not None:
        add(*_source_mask(ds, [source] if isinstance(source, str) else list(source)))
    if region is not None:
        add(*_region_mask(ds, region))
    if time is not None:
        add(*_time_mask(ds, time))
    out = ds.isel({dim: np.flatnonzero(mask) for dim, mask in masks.items()})
    return _kept_models(out)


def _kept_models(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its by-source reference models trimmed to the sources it still holds (a one-source
    selection of a 3,000-source catalog does not carry 3,000 models)."""
    import json

    text = ds.attrs.get("reference_model")
    if not text or '"by_source"' not in text or "source" not in ds.coords:
        return ds
    models = json.loads(text).get("by_source", {})
    kept = set(np.asarray(ds["source"].values).astype(str).ravel().tolist())
    ds = ds.copy()
    ds.attrs = {
        **ds.attrs,
        "reference_model": json.dumps({"by_source": {n: m for n, m in models.items() if n in kept}}),
    }
    return ds


def refuse_collection(ds: xr.Dataset, dim: str, what: str) -> None:
    """Refuse an operation that needs one ordered set of bins along ``dim`` (merging neighbouring bins) on
    a collection, whose points along ``dim`` belong to several members with their own bins.

    Raises
    ------
    SchemaError
        Naming the operation, the member label and how to do it member by member.
    """
    label = member_label(ds, dim) if dim in BINNED_DIMS else None
    if label is not None:
        raise SchemaError(
            f"{what} along {dim!r}: this Dataset is a collection (its points along {dim!r} belong to "
            f"{len(members(ds, label))} members labelled {label!r}, each with its own bins), and merging "
            f"neighbouring bins would mix members; {what} one member at a time: "
            f"ds.sed.member(name).sed.{what}({dim!r}, ...)"
        )
