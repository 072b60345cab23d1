"""Many input files as one output Dataset along ``source`` (a catalog of SEDs; a collection labelled
``source`` when their bins differ) or ``time`` (a long light curve), written incrementally: memory stays
bounded by one input file per worker, never the total.

How it works (:func:`concat_files`):

1. the inputs are taken in groups of ``group_size``; each group is read, concatenated in memory and written,
   in parallel (the :func:`fluxds.batch` machinery: dask threads or a ``dask.distributed`` cluster), as one
   *part* (a netCDF file in the fluxds CF encoding) in a parts folder beside the output,
   ``.<output name>.parts``;
2. the parts are opened lazily as one dask-backed Dataset, one chunk per part, concatenated along ``dim``;
3. the output is written from that lazy Dataset chunk by chunk (netCDF or zarr), atomically; the parts
   folder is then removed.

Memory: a worker holds one group (``group_size`` inputs); the final write holds a few parts at a time; the
dask graph has a few tasks per part and variable, so grouping keeps it small for 10⁴ inputs too.

If some inputs fail, nothing is written under the output name: the failures are reported per file and the
parts already made are kept, so that a re-run reads only what is missing (resumable, like ``batch``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from fluxds.errors import FormatError, SchemaError
from fluxds.io.output.locks import NETCDF_LOCK, lock_for
from fluxds.parallel import TARGETS, BatchResult

__all__ = ["concat_files", "concat_sources", "CONCAT_DIMS"]

CONCAT_DIMS = ("source", "time")
_GTI_VARS = ("gti_start", "gti_stop")
_GEOMETRY = ("wcs", "healpix")


def _part_name(group: list[Path]) -> str:
    """The part of a group of inputs: named by their absolute paths, so that a re-run finds the parts
    already made (and remakes a group whose inputs changed)."""
    digest = hashlib.sha1("\n".join(str(p.resolve()) for p in group).encode()).hexdigest()[:16]
    return f"{digest}.nc"


def _with_dim(ds: xr.Dataset, dim: str, source: str) -> xr.Dataset:
    """``ds`` with ``dim`` as a dimension: a scalar coordinate is expanded; a single-source SED without a
    source name is named after its file. A collection (:mod:`fluxds.collection`) stays one: labelled by
    ``source`` along its points (a collection of papers from one file is one source, named as a
    single-source SED is)."""
    if dim == "source":
        members_dim = _label_dim(ds)
        if members_dim is not None:
            return _source_labelled(ds, members_dim, source)
        if "source" not in ds.dims:
            if "source" not in ds.coords:
                ds = ds.assign_coords(source=Path(source).name.split(".")[0])
            gti = [v for v in _GTI_VARS if v in ds]
            # per-source scalars (the source name, its sky position) gain the dimension; the map
            # geometry holders do not
            scalars = [c for c in ds.coords if ds[c].ndim == 0 and c not in _GEOMETRY and c != "source"]
            body = ds.drop_vars(gti).expand_dims("source")
            body = body.assign_coords({c: body[c].expand_dims(source=body["source"].values) for c in scalars})
            ds = body.merge(ds[gti]) if gti else body
        # variables shared by the sources of one file (e.g. one reference model for all) gain the
        # dimension, so that files with other references concatenate
        shared = [v for v in ds.data_vars if "source" not in ds[v].dims and v not in _GTI_VARS]
        if shared:
            ds = ds.assign({v: ds[v].expand_dims(source=ds["source"].values) for v in shared})
        return ds.transpose(*_canonical(ds.dims, "source"))
    if dim in ds.dims:
        return ds
    raise FormatError(f"{source}: has no {dim!r} dimension to concatenate along (dims: {dict(ds.sizes)})")


def _label_dim(ds: xr.Dataset) -> str | None:
    """The binned dimension along which ``ds`` is a collection, or None on a grid."""
    from fluxds.collection import BINNED_DIMS, member_label

    return next((d for d in BINNED_DIMS if d in ds.dims and member_label(ds, d) is not None), None)


def _source_labelled(ds: xr.Dataset, dim: str, source: str) -> xr.Dataset:
    """A collection whose member label is ``source``: as it is, if it is; else (a file of papers' or
    instruments' points for one source) with a ``source`` label along ``dim`` naming the file's source
    (its scalar ``source`` coordinate, else the file name), put first so that it is the member label;
    the other labels stay beside it."""
    from fluxds.collection import label_first, member_label

    label = member_label(ds, dim)
    if label == "source":
        return ds
    from fluxds import schema

    axis = schema.binned_axis(dim)
    bins = [np.asarray(ds[c].values) for c in (axis.coords if axis else (dim,)) if c in ds.coords]
    if any(v.size > 1 and not (np.diff(v) > 0).all() for v in bins):
        raise FormatError(
            f"{source}: a collection of {label!r} members whose {dim} points overlap; as one source among "
            "others its points would have to increase: stack such files with "
            f"fluxds.stack_members(..., label={label!r}) instead"
        )
    name = str(ds["source"].values) if "source" in ds.coords and ds["source"].ndim == 0 else None
    name = name or Path(source).name.split(".")[0]
    ds = ds.drop_vars("source", errors="ignore")
    return label_first(ds.assign_coords(source=(dim, np.full(ds.sizes[dim], name, dtype=str))), "source")


def _members_dim(datasets: list[xr.Dataset], where: str) -> str | None:
    """The binned dimension along which the inputs' bins differ (so that they make a collection), or None
    when they share their bins (a grid along ``source``, as always)."""
    from fluxds.collection import BINNED_DIMS
    from fluxds.io.fits_tables import same_bins

    dims = [d for d in BINNED_DIMS if all(d in ds.dims for ds in datasets)]
    differ = [d for d in dims if not same_bins(datasets, d)]
    if len(differ) > 1:
        raise FormatError(
            f"{where}: the inputs differ in their {' and '.join(differ)} bins; sources with their own bins "
            "make a collection along one binned dimension: select one energy band (or time bin) first"
        )
    return differ[0] if differ else None


def _fill_missing(datasets: list[xr.Dataset], along: str, where: str) -> list[xr.Dataset]:
    """:func:`fluxds.collection.fill_missing`, its refusal naming the files."""
    from fluxds.collection import fill_missing

    try:
        return fill_missing(datasets, along)
    except SchemaError as exc:
        raise FormatError(f"{where}: {exc}") from None


def _pad_unindexed(datasets: list[xr.Dataset], along: str) -> list[xr.Dataset]:
    """Dimensions without an index (``scan``) padded with NaN to the longest input (NaN marks padding in
    likelihood profiles), so that inputs with profiles of other lengths go together."""
    sizes: dict[str, int] = {}
    for ds in datasets:
        for d, n in ds.sizes.items():
            if d != along and d not in ds.indexes:
                sizes[d] = max(sizes.get(d, 0), n)
    out = []
    for ds in datasets:
        pad = {d: (0, n - ds.sizes[d]) for d, n in sizes.items() if d in ds.dims and ds.sizes[d] < n}
        out.append(ds.pad(pad) if pad else ds)
    return out


def _combine_members(datasets: list[xr.Dataset], dim: str, where: str) -> xr.Dataset:
    """Inputs whose bins along ``dim`` differ as one collection labelled ``source``: each grid's sources
    (:func:`fluxds.collection.collection_from_grid`) and each collection's members, their points one after
    the other; reference models kept by source where they differ."""
    from fluxds import schema
    from fluxds.collection import collection_from_grid, member_label, members

    pieces, owner = [], {}
    for i, ds in enumerate(datasets):
        # text (labels; netCDF gives it back as lazy objects) in memory as str: small, and concatenable
        text = {n: v for n, v in ds.variables.items() if v.dtype.kind in "OSU" and n not in ds.indexes}
        if text:
            loaded = {n: v.copy(data=np.asarray(v.values).astype(str)) for n, v in text.items()}
            ds = ds.assign_coords({n: v for n, v in loaded.items() if n in ds.coords})
            ds = ds.assign({n: v for n, v in loaded.items() if n not in ds.coords})
        if member_label(ds, dim) is None:
            ds = collection_from_grid(ds, "source", dim)
        for name in members(ds, "source"):
            if name in owner:
                raise FormatError(
                    f"{where}: duplicate source names ['{name}'] (inputs {owner[name]} and {i})"
                )
            owner[name] = i
        pieces.append(ds)
    axis = schema.binned_axis(dim)
    for edge in axis.edges if axis else ():
        has = [edge in ds.coords for ds in pieces]
        if any(has) and not all(has):
            without = members(pieces[has.index(False)], "source")
            raise FormatError(
                f"{where}: some sources have {dim} bin edges ({edge}) and others (e.g. {without[0]!r}) have "
                "none; read with derive_edges=True (--derive-edges) to derive them"
            )
    pieces = _pad_unindexed(_fill_missing(pieces, dim, where), dim)
    models: dict[str, object] = {}
    for ds in pieces:
        text = ds.attrs.get("reference_model")
        parsed = json.loads(text) if text else None
        for name in members(ds, "source"):
            models[name] = parsed["by_source"].get(name) if parsed and "by_source" in parsed else parsed
    try:
        joined = xr.concat(
            [p.reset_index(dim) if dim in p.indexes else p for p in pieces],
            dim=dim,
            data_vars="different",
            coords="different",
            compat="equals",
            join="outer",
            combine_attrs="drop_conflicts",
        )
    except (ValueError, KeyError) as exc:
        raise FormatError(f"{where}: the inputs cannot be put together along {dim!r}: {exc}") from None
    if dim in joined.coords and dim not in joined.indexes:
        joined = joined.set_xindex(dim)
    joined = joined.assign_coords(source=(dim, np.asarray(joined["source"].values).astype(str)))
    # an attribute of some inputs only (energy_edges_origin of one file ...) would speak for all: dropped
    joined.attrs = {k: v for k, v in joined.attrs.items() if all(k in p.attrs for p in pieces)}
    if len({json.dumps(m, sort_keys=True) for m in models.values()}) > 1:
        joined.attrs["reference_model"] = json.dumps({"by_source": {n: m for n, m in models.items() if m}})
    return joined.transpose(*schema.canonical_dims(joined.dims))


def _canonical(dims, extra: str) -> list[str]:
    from fluxds import schema

    return schema.canonical_dims([extra, *dims])


def _part_one(
    group: list[str], part: str, dim: str, isolate: float | None = None, read_options: dict | None = None
) -> list[tuple[str, str]]:
    """Read a group of inputs and write them, concatenated, as one part; never raises (errors are
    returned per input, and then no part is written)."""
    import fluxds
    from fluxds.io.cf.netcdf import write_netcdf

    if Path(part).exists():  # written by an earlier attempt of this task on a worker that then died
        return [("written", "")] * len(group)
    datasets, outcomes = [], []
    for source in group:  # a handful of files in one task; the tasks run in parallel
        try:
            if isolate:  # outside the netCDF lock: the probe runs in its own process
                from fluxds.io.guard.isolated import probe

                probe(source, isolate, **(read_options or {}))
            with lock_for(source):
                datasets.append(_with_dim(fluxds.read(source, **(read_options or {})), dim, source))
            outcomes.append(("read", ""))
        except Exception as exc:  # noqa: BLE001 - reported per file; a bad file must not stop the others
            outcomes.append(("failed", f"{type(exc).__name__}: {exc}"))
    if any(status == "failed" for status, _ in outcomes):
        return outcomes
    try:
        combined = _combine(datasets, dim, where=f"{group[0]} ...")
        with NETCDF_LOCK:  # the netCDF-C library is not thread-safe
            write_netcdf(combined, part)
    except Exception as exc:  # noqa: BLE001 - the group's inputs do not go together: say so for each
        return [("failed", f"{type(exc).__name__}: {exc}")] * len(group)
    return [("written", "")] * len(group)


def _combine(datasets: list[xr.Dataset], dim: str, where: str) -> xr.Dataset:
    """Concatenate Datasets (in memory or dask-backed) along ``dim``: variables with ``dim`` are
    concatenated; the others (per-energy references of a light curve) are kept once and must be equal in
    all (only those small variables are read to compare); GTIs are merged; reference models of different
    sources are kept by source name. Along ``source``, inputs whose energy (or time) bins differ make a
    collection labelled ``source`` (:func:`_combine_members`)."""
    gtis = [ds[list(_GTI_VARS)].load() for ds in datasets if all(v in ds for v in _GTI_VARS)]
    stripped = [ds.drop_vars([v for v in _GTI_VARS if v in ds]) for ds in datasets]
    members_dim = _members_dim(stripped, where) if dim == "source" else None
    if members_dim is not None:
        ds = _combine_members(stripped, members_dim, where)
        return ds.assign(_merged_gti(gtis, where)) if gtis else ds
    try:
        ds = xr.concat(
            stripped,
            dim=dim,
            data_vars="minimal",
            coords="minimal",
            compat="equals",
            join="exact",
            combine_attrs="drop_conflicts",
        )
    except (ValueError, KeyError) as exc:
        raise FormatError(f"{where}: the inputs cannot be concatenated along {dim!r}: {exc}") from None
    ds.attrs.update(_merged_attrs([(d.attrs, d.sizes[dim]) for d in datasets], ds, dim, where))
    if gtis:
        ds = ds.assign(_merged_gti(gtis, where))
    return ds


def concat_sources(datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """SEDs (or light curves) of several sources, in memory, as one Dataset along ``source``, keeping
    each source's reference model.

    ``xr.concat(datasets, dim="source")`` concatenates the numbers correctly (``ref_dnde`` ... gain the
    ``source`` dimension) but, with its default ``combine_attrs="override"``, keeps the first Dataset's
    attributes: the ``reference_model`` of the first source then stands for all of them
    (``ds.sed.validate()`` warns of that). This function does what :func:`concat_files` does for files:
    attributes that differ are dropped, and different reference models are kept by source name
    (``{"by_source": {name: model}}``, which the FITS writer splits again, one HDU per source).

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Each with a ``source`` coordinate (a scalar name, or a ``source`` dimension). The same energy
        bins (and time bins) in all give a grid along ``source``; other bins give a collection labelled
        ``source`` (as :func:`concat_files`).

    Returns
    -------
    xarray.Dataset
        Dims ``(source, ...)`` (a collection: ``energy`` with a ``source`` label), validated.

    Raises
    ------
    FormatError
        A Dataset without a source name, or Datasets that do not fit together.
    """
    from fluxds.validate import validate

    unnamed = [i for i, ds in enumerate(datasets) if "source" not in ds.coords]
    if unnamed or not datasets:
        raise FormatError(
            f"concat_sources: datasets {unnamed} have no 'source' coordinate; name each source first, "
            "e.g. ds.assign_coords(source='Crab')"
            if datasets
            else "concat_sources: no datasets given"
        )
    prepared = [_with_dim(ds, "source", f"dataset {i}") for i, ds in enumerate(datasets)]
    return validate(_combine(prepared, "source", where="concat_sources"), where="concat_sources")


def _open_parts(parts: list[Path], dim: str, where: str) -> xr.Dataset:
    """The parts as one lazy Dataset along ``dim`` (one dask chunk per part), validated."""
    from fluxds.io.cf.encoding import decode
    from fluxds.validate import validate

    opened = []
    try:
        for part in parts:  # opening reads metadata only
            opened.append(decode(xr.open_dataset(part, chunks={})))
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: cannot open the part {part}: {exc}") from None
    try:
        ds = _combine(opened, dim, where)
        if dim == "time":
            ds = ds.sortby("time")  # the order of the inputs does not matter; lazy (a reordering of chunks)
        # also refuses duplicate source names and time bins present twice (not strictly increasing)
        return validate(ds, where=where)
    except BaseException:
        for part_ds in opened:  # nothing is written: release the parts' files
            part_ds.close()
        raise


def _merged_gti(gtis: list[xr.Dataset], where: str) -> xr.Dataset:
    """The parts' good time intervals, concatenated, each interval once, in time order."""
    import numpy as np

    def reference(attrs: dict) -> dict:  # without the GTI HDU's header keywords (CREATOR, CREATED ...)
        return {k: v for k, v in attrs.items() if not str(k).isupper()}

    first = gtis[0]
    for gti in gtis[1:]:
        if any(reference(gti[v].attrs) != reference(first[v].attrs) for v in _GTI_VARS):
            raise FormatError(f"{where}: the inputs' GTIs have different time references or units")
    # header keywords kept where all inputs agree (as xarray's combine_attrs="drop_conflicts")
    attrs = {
        v: {k: x for k, x in first[v].attrs.items() if all(g[v].attrs.get(k) == x for g in gtis)}
        for v in _GTI_VARS
    }
    pairs = np.stack([np.concatenate([g[v].values for g in gtis]) for v in _GTI_VARS], axis=-1)
    pairs = np.unique(pairs, axis=0)
    return xr.Dataset({v: ("gti", pairs[:, i], attrs[v]) for i, v in enumerate(_GTI_VARS)})


def _merged_attrs(attrs_and_sizes: list[tuple[dict, int]], ds: xr.Dataset, dim: str, where: str) -> dict:
    """Attributes that differ between inputs are dropped by xarray; the reference models of different
    sources are kept, by source name (as :func:`fluxds.io.fits_tables.join_sources` does)."""
    models = [attrs.get("reference_model") for attrs, _ in attrs_and_sizes]
    if len(set(models)) <= 1:
        return {}
    if dim != "source":
        raise FormatError(
            f"{where}: the inputs have different reference models; a light curve along time needs one"
        )
    names = [str(n) for n in ds["source"].values]
    by_source: dict = {}
    start = 0
    for (_, size), model in zip(attrs_and_sizes, models, strict=True):
        if model is not None:
            parsed = json.loads(model)
            for name in names[start : start + size]:
                by_source[name] = parsed["by_source"].get(name) if "by_source" in parsed else parsed
        start += size
    return {"reference_model": json.dumps({"by_source": by_source})}


def concat_files(
    inputs: Iterable[str | os.PathLike],
    path: str | os.PathLike,
    *,
    dim: str = "source",
    to: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    group_size: int = 32,
    isolate: float | None = None,
    read_options: dict | None = None,
) -> BatchResult:
    """Concatenate many files into one Dataset along ``dim`` and write it, with bounded memory.

    Parameters
    ----------
    inputs : iterable of paths
        Any files :func:`fluxds.read` reads, in the order wanted along ``dim``. For ``dim="source"``,
        single-source files become one source each (named by their ``source`` coordinate, else by the
        file name); multi-source files contribute all their sources; names must be unique. Inputs whose
        energy bins (light curves: time bins) differ give a **collection** labelled ``source``
        (:mod:`fluxds.collection`): every source's points one after the other along ``energy`` (or
        ``time``), each source's bins and reference model kept; variables some inputs lack are NaN
        (text: empty) for the others, profiles of other lengths NaN-padded. Inputs that share their bins
        give the ``(source, energy)`` grid, as always. For
        ``dim="time"``, light curves with the same energy bins and reference model, in any order (the
        result is sorted by time; a time bin present twice is an error); their GTIs are merged.
    path : path
        The output: a netCDF file (``.nc``) or a zarr store (``.zarr``).
    dim : {"source", "time"}
    to : {"netcdf", "zarr"}, optional
        Output format (default: from the extension of ``path``).
    scheduler, workers, progress
        As for :func:`fluxds.batch` (reading the inputs runs in parallel).
    overwrite : bool
        Replace an existing output.
    group_size : int
        Inputs read and concatenated together by one task (the memory a worker needs is about this many
        inputs); larger groups mean fewer parts and a smaller dask graph for the final write.
    isolate : float, optional
        As for :func:`fluxds.batch`: each input is first read in a separate process with this time limit.
    read_options : dict, optional
        Passed to :func:`fluxds.read` for every input (``derive_edges``, ``units``, ``columns`` ...).

    Returns
    -------
    BatchResult
        ``written`` is ``[path]`` on success; ``failed`` lists inputs that could not be read (then nothing
        is written, and the parts made so far are kept for a re-run); ``skipped`` holds ``path`` when it
        existed already (and ``overwrite`` is False).

    Examples
    --------
    >>> import fluxds, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> result = fluxds.concat_files([fluxds.demo_path()], folder / "catalog.nc", progress=False)
    >>> fluxds.read(folder / "catalog.nc").sizes["source"]
    1
    """
    from fluxds.io import write
    from fluxds.parallel import run_tasks

    if dim not in CONCAT_DIMS:
        raise FormatError(f"cannot concatenate along {dim!r}; expected one of {', '.join(CONCAT_DIMS)}")
    target = Path(path)
    to = to or ("zarr" if target.suffix == ".zarr" else "netcdf")
    if to not in ("netcdf", "zarr"):
        raise FormatError(f"{target}: concatenated outputs are netCDF or zarr, not {to!r}")
    result = BatchResult()
    if target.exists() and not overwrite:
        result.skipped.append(target)
        return result
    sources = [Path(p) for p in inputs]
    if not sources:
        raise FormatError(f"{target}: no inputs to concatenate")
    resolved = [str(s.resolve()) for s in sources]
    repeated = sorted(p for p, n in Counter(resolved).items() if n > 1)
    if repeated:
        raise FormatError(f"{target}: inputs listed more than once: {repeated[:10]}")
    if group_size < 1:
        raise FormatError(f"group_size must be at least 1, not {group_size}")
    from fluxds.io.guard.isolated import isolation_limit

    isolate = isolation_limit(isolate)  # 0, < 0, NaN, inf, a string: a usage error, before anything runs
    parts_dir = target.parent / f".{target.name}.parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    groups = [sources[i : i + group_size] for i in range(0, len(sources), group_size)]
    parts = [parts_dir / _part_name(group) for group in groups]
    todo = [(g, p) for g, p in zip(groups, parts, strict=True) if not p.exists()]
    import dask

    tasks = [
        dask.delayed(_part_one)([str(s) for s in g], str(p), dim, isolate, read_options) for g, p in todo
    ]
    outcomes = run_tasks(tasks, scheduler=scheduler, workers=workers, progress=progress)
    for (group, _), group_outcomes in zip(todo, outcomes, strict=True):
        for source, (status, message) in zip(group, group_outcomes, strict=True):
            if status == "failed":
                result.failed[source] = message
    if result.failed:
        return result
    combined = _open_parts(parts, dim, str(target))
    try:
        write(combined, target, format=TARGETS[to][0], overwrite=overwrite)
    finally:
        combined.close()
    shutil.rmtree(parts_dir, ignore_errors=True)
    result.written.append(target)
    return result
