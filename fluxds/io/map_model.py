"""The reference model of a flux-map file: gammapy's ``MODEL`` keyword and model YAML, fluxds' embedded
JSON.

gammapy writes the reference model of a ``FluxMaps`` to a side file (a gammapy model YAML) and stores its
name, exactly as given at write time, in the ``MODEL`` keyword of the primary header; ``FluxMaps.read``
opens that name relative to the *current directory*, so it fails anywhere but where the file was written.
fluxds looks for it beside the FITS file first, then in the current directory; it reads the YAML with
``yaml.safe_load`` only, and takes the ``spectral`` part of the first component that has one.

Files that fluxds writes carry the model in the primary header too (``FDSATTRS``, the attributes as JSON,
``reference_model`` among them), so they need no side file; fluxds still writes the YAML beside them, with
a ``MODEL`` keyword naming it relative to the FITS file, so that gammapy reads them (from their folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from fluxds.errors import FormatError, ModelError
from fluxds.io.atomic import atomic_path
from fluxds.io.gadf_table import parse_attrs_json
from fluxds.models import SpectralModel, Template, model_from_dict, model_from_json

__all__ = ["resolve_model", "model_yaml_text", "write_model_yaml"]


def _load_yaml(path: Path, keyword: str, fits_path: str) -> tuple[SpectralModel, str]:
    where = f"{fits_path}: reference model {path} (keyword MODEL = {keyword!r})"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FormatError(f"{where}: cannot read it as YAML: {exc}") from None
    components = doc.get("components") if isinstance(doc, dict) else None
    if not isinstance(components, list) or not components:
        raise FormatError(f"{where}: expected a gammapy model file with a 'components' list")
    for component in components:
        if isinstance(component, dict) and isinstance(component.get("spectral"), dict):
            try:
                model = model_from_dict(component["spectral"])
            except ModelError as exc:
                raise FormatError(f"{where}: {exc}") from None
            return model, f"gammapy model file {keyword} (MODEL keyword), component {component.get('name')!r}"
    raise FormatError(f"{where}: no component has a 'spectral' model")


def resolve_model(
    keyword: str | None, saved: dict[str, Any] | None, fits_path: str | os.PathLike
) -> tuple[SpectralModel | None, str | None]:
    """The reference model of a flux-map file and where it came from.

    Parameters
    ----------
    keyword : str or None
        The ``MODEL`` keyword of the primary header.
    saved : dict or None
        The fluxds attributes embedded in the file (``FDSATTRS``); their ``reference_model`` wins.
    fits_path : path-like
        The FITS file (its folder is searched first).

    Returns
    -------
    (SpectralModel or None, str or None)
        The model and its origin; ``(None, None)`` when the file names no model.

    Raises
    ------
    FormatError
        The YAML is missing (naming every path tried) or unreadable.
    """
    fits_path = str(fits_path)
    if saved and saved.get("reference_model"):
        text = saved["reference_model"]
        try:
            return model_from_json(text), saved.get("reference_model_origin")
        except ModelError as exc:
            raise FormatError(f"{fits_path}: reference model in FDSATTRS: {exc}") from None
    if not keyword:
        return None, None
    name = Path(str(keyword))
    if name.is_absolute():
        candidates = [name]
    else:
        candidates = [Path(fits_path).resolve().parent / name, Path.cwd() / name]
    for candidate in candidates:
        if candidate.is_file():
            return _load_yaml(candidate, str(keyword), fits_path)
    tried = " nor ".join(str(c) for c in dict.fromkeys(candidates))
    raise FormatError(
        f"{fits_path}: keyword MODEL = {keyword!r} names the reference-model YAML, which is not at "
        f"{tried} (beside the FITS file, then the current directory), and the file embeds no model "
        "(no FDSATTRS keyword); put the YAML beside the FITS file"
    )


def _gammapy_spectral(model: SpectralModel) -> dict[str, Any]:
    if isinstance(model, Template):
        return {
            "type": model.gammapy_type,
            "parameters": [],
            "energy": {"data": [float(x) for x in model.energy.value], "unit": model.energy.unit.to_string()},
            "values": {"data": [float(x) for x in model.values.value], "unit": model.values.unit.to_string()},
        }
    params = []
    for name, q in model.parameters.items():
        entry: dict[str, Any] = {"name": name, "value": float(q.value)}
        unit = q.unit.to_string("fits") if q.unit.physical_type != "dimensionless" else ""
        if unit:
            entry["unit"] = unit
        params.append(entry)
    return {"type": model.gammapy_type, "parameters": params}


def model_yaml_text(model: SpectralModel, name: str = "reference") -> str:
    """A gammapy model YAML holding ``model`` as the spectral part of one ``SkyModel`` component."""
    doc = {
        "components": [{"name": name, "type": "SkyModel", "spectral": _gammapy_spectral(model)}],
        "metadata": {"creator": "fluxds"},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_model_yaml(ds_attrs: dict[str, Any], fits_path: Path, model_file, overwrite: bool) -> str | None:
    """Write the reference model beside the FITS file (gammapy reads it); the ``MODEL`` keyword value.

    ``model_file``: True for ``<stem>_model.yaml`` beside the FITS file, a path, or False/None for no
    side file. Returns None when nothing is written (no model, several models, or not asked).
    """
    text = ds_attrs.get("reference_model")
    if not model_file or not text or '"by_source"' in text:
        return None
    try:
        model = model_from_json(text)
    except ModelError as exc:
        raise FormatError(f"{fits_path}: attribute reference_model: {exc}") from None
    if model_file is True:
        stem = fits_path.name
        for suffix in (".gz", ".fits", ".fit", ".fts"):
            stem = stem.removesuffix(suffix)
        target = fits_path.with_name(f"{stem}_model.yaml")
    else:
        target = Path(model_file)
        if not target.is_absolute():
            target = fits_path.parent / target
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(model_yaml_text(model), encoding="utf-8")
    try:
        return target.resolve().relative_to(fits_path.resolve().parent).as_posix()
    except ValueError:
        return str(target.resolve())


def saved_attrs(text: str | None, where: str) -> dict[str, Any] | None:
    """The fluxds attributes embedded as JSON (``FDSATTRS``), or None."""
    return parse_attrs_json(text, where)
