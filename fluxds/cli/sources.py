"""One source of a Dataset by name, for ``fluxds info --source`` and ``fluxds plot --source``: along a
``source`` dimension (a catalog's band SEDs, a Dataset of several sources on one grid) or a member of a
collection (:mod:`fluxds.collection`: a gamma-cat catalog, a compilation labelled by paper). An unknown
name is a usage error that suggests close names (:mod:`difflib`) and the sources associated with it."""

from __future__ import annotations

import difflib
import json

import numpy as np
import xarray as xr

from fluxds.cli.printing import escaped
from fluxds.cli.usage_error import UsageError

__all__ = ["source_names", "one_source", "suggestions"]

#: how many names an unknown ``--source`` suggests
MAX_SUGGESTIONS = 5


def source_names(ds: xr.Dataset) -> tuple[str | None, np.ndarray]:
    """``(label, names)``: the names ``--source`` chooses from, and what they are (``source`` along a
    ``source`` dimension, else a collection's member label such as ``source`` or ``paper``); ``(None,
    [])`` when the Dataset has neither."""
    from fluxds.collection import member_label

    if "source" in ds.dims and "source" in ds.coords:
        return "source", np.atleast_1d(np.asarray(ds["source"].values).astype(str))
    label = member_label(ds)
    if label is not None:
        return label, np.asarray(ds.sed.members, dtype=str)
    if "source" in ds.coords and ds["source"].ndim == 0:  # one source, kept as a scalar coordinate
        return "source", np.array([str(ds["source"].values)])
    return None, np.array([], dtype=str)


def _associations(ds: xr.Dataset, label: str) -> dict[str, np.ndarray]:
    """The association columns along the sources (``assoc1``, ``assoc_tev`` ...; as text)."""
    dim = "source" if "source" in ds.dims else ds[label].dims[0] if ds[label].ndim else None
    found = {}
    for name, coord in ds.coords.items():
        if str(name).lower().startswith("assoc") and coord.dims == (dim,) and coord.dtype.kind in "USO":
            found[str(name)] = np.asarray(coord.values).astype(str)
    return found


def suggestions(ds: xr.Dataset, name: str) -> list[str]:
    """Names close to ``name``, case ignored: equal but for case, then close
    (:func:`difflib.get_close_matches`), then containing it; then the sources whose association
    (``assoc1``, ``assoc2``, ``assoc_tev`` ...) contains it, shown as ``NAME (assoc2 'Crab')``; at most
    :data:`MAX_SUGGESTIONS`, each source once."""
    label, names = source_names(ds)
    key = name.casefold().strip()
    if label is None or not key:
        return []
    unique = list(dict.fromkeys(names.tolist()))
    folded: dict[str, str] = {}
    for n in unique:
        folded.setdefault(n.casefold(), n)
    found = [folded[key]] if key in folded else []
    found += [folded[c] for c in difflib.get_close_matches(key, list(folded), n=MAX_SUGGESTIONS, cutoff=0.6)]
    if len(key) >= 3:
        found += [n for f, n in folded.items() if key in f][:MAX_SUGGESTIONS]
    shown = list(dict.fromkeys(found))
    if len(key) >= 3 and len(shown) < MAX_SUGGESTIONS:
        sources = np.atleast_1d(np.asarray(ds[label].values).astype(str))
        for column, values in _associations(ds, label).items():
            for i in np.flatnonzero(np.char.find(np.char.lower(values), key) >= 0):
                if sources[i] not in shown and not any(s.startswith(f"{sources[i]} (") for s in shown):
                    shown.append(f"{sources[i]} ({column} {str(values[i])!r})")
    return shown[:MAX_SUGGESTIONS]


def _own_model(ds: xr.Dataset, name: str) -> xr.Dataset:
    """``ds`` with the reference model of source ``name`` alone (a catalog records one per source:
    ``{"by_source": {...}}``), so that the one-source Dataset does not carry thousands of models."""
    text = ds.attrs.get("reference_model")
    if not isinstance(text, str) or '"by_source"' not in text:
        return ds
    try:
        by_source = json.loads(text).get("by_source")
    except (ValueError, AttributeError):
        return ds
    if not isinstance(by_source, dict):
        return ds
    attrs = dict(ds.attrs)
    own = by_source.get(name)
    if own is None:
        attrs.pop("reference_model", None)
    else:
        attrs["reference_model"] = json.dumps(own)
    out = ds.copy(deep=False)
    out.attrs = attrs
    return out


def one_source(ds: xr.Dataset, name: str, path: str) -> xr.Dataset:
    """The Dataset of source ``name``: the ``source`` dimension dropped (its name and the other per-source
    coordinates kept as scalars), or a collection's member on its own grid; its own reference model.

    Raises
    ------
    UsageError
        No such source (close names suggested), or the file has no sources to choose from.
    """
    label, names = source_names(ds)
    if label is None:
        dims = ", ".join(f"{escaped(k)}={v}" for k, v in ds.sizes.items())
        raise UsageError(
            f"--source {escaped(name)}: {escaped(path)} has no sources to choose from (no 'source' "
            f"dimension and no member label; dims: {dims})"
        )
    hits = np.flatnonzero(names == name)
    if not hits.size:
        close = suggestions(ds, name)
        hint = f"; did you mean: {', '.join(map(escaped, close))}?" if close else ""
        raise UsageError(
            f"--source {escaped(name)}: no {escaped(label)} of that name in {escaped(path)} "
            f"({names.size} {escaped(label)}s){hint}"
        )
    if "source" in ds.dims and label == "source":
        one = ds.isel(source=int(hits[0]))
    elif names.size == 1 and label not in ds.dims and ds[label].ndim == 0:
        one = ds
    else:
        one = ds.sed.member(name, label)
    return _own_model(one, name)
