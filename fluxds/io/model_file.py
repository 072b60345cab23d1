"""The reference model of a flux-map file: gammapy's ``MODEL`` keyword and model YAML, fluxds' embedded
JSON.

gammapy writes the reference model of a ``FluxMaps`` to a side file (a gammapy model YAML) and stores its
name, exactly as given at write time, in the ``MODEL`` keyword of the primary header; ``FluxMaps.read``
opens that name relative to the *current directory*, so it fails anywhere but where the file was written.
fluxds looks for it only beside the FITS file, by file name (the keyword's last path component: a folder
or absolute path in it is never followed, nor is the current directory searched; a link or a special
file there is refused, see :func:`model_file_beside`); it reads the YAML without following links, at most
:data:`MAX_MODEL_BYTES`, through :func:`fluxds.io.guard.yaml_safe.load_yaml` (the safe loader, bounded alias
expansion, errors that never quote the file), and takes the ``spectral`` part of the first component
that has one. A map whose ``MODEL`` cannot be read so is refused (its norms mean nothing without the
model): put the YAML beside the map, or give the model (``reference_model=`` for HEALPix maps).

Files that fluxds writes carry the model in the primary header too (``FDSATTRS``, the attributes as JSON,
``reference_model`` among them), so they need no side file; fluxds still writes the YAML beside them, with
a ``MODEL`` keyword naming it relative to the FITS file, so that gammapy reads them (from their folder).
The YAML records the name of the FITS file it was written for (``metadata: flux_map:``, which gammapy
ignores); when that FITS file is replaced, the YAML it named is removed only if it records that very
name (:func:`remove_replaced_model`), never the YAML of another map (a copy of the file names the
original's YAML too).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import yaml

from fluxds.errors import FormatError, ModelError, OverwriteError
from fluxds.io.guard.yaml_safe import load_yaml
from fluxds.io.output.atomic import atomic_path
from fluxds.models import SpectralModel, Template, model_from_dict, model_from_json

__all__ = [
    "resolve_model",
    "model_file_beside",
    "read_model_yaml",
    "MAX_MODEL_BYTES",
    "model_yaml_text",
    "write_model_yaml",
    "remove_replaced_model",
    "written_by_fluxds",
]

_FLUXDS_MARK = b"\nmetadata:\n  creator: fluxds\n"  # in every model YAML fluxds writes (model_yaml_text)
_MAP_RECORD = b"  flux_map: "  # after the mark: the FITS file the YAML was written for
_YAML_TAIL = 4096  # bytes at the end of a YAML read to tell whether fluxds wrote it


#: the largest reference-model YAML fluxds reads beside a flux map (bytes)
MAX_MODEL_BYTES = 16 * 1024**2
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC


def model_file_beside(keyword: str, folder: str | os.PathLike, where: str) -> Path:
    """The model YAML a ``MODEL`` keyword names, looked for beside the map file only, by file name.

    Only the keyword's last path component is used: a folder in it (``out/maps_model.yaml``, as gammapy
    writes when the map goes into a folder, or an absolute path) is where the writer stood, never a place
    fluxds reads from; the current directory is not searched either.

    Parameters
    ----------
    keyword : str
        The ``MODEL`` keyword.
    folder : str or path-like
        The folder of the map file.
    where : str
        The map file (and HDU), for messages.

    Returns
    -------
    pathlib.Path
        ``folder / name``, a regular file (not a link) when this returns.

    Raises
    ------
    FormatError
        The keyword ends in no usable file name (empty, ``.``, ``..``, control characters), or there is
        no such regular file beside the map (a link or a special file is refused, not followed).
    """
    text = str(keyword).strip()
    name = text.replace("\\", "/").rsplit("/", 1)[-1]
    if not name or name in (".", "..") or not name.isprintable() or len(name) > 255:
        raise FormatError(f"{where}: keyword MODEL = {text!r} does not end in a file name")
    found = Path(os.path.abspath(folder)) / name
    try:
        mode = os.lstat(found).st_mode
    except OSError:
        raise FormatError(
            f"{where}: keyword MODEL = {text!r} names the reference-model YAML {name!r}, which is not at "
            f"{found}; fluxds looks for it only beside the map file (never in the current directory or "
            "a folder the keyword names), and the file embeds no model (no FDSATTRS keyword); put the "
            "YAML beside the map file"
        ) from None
    if not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise FormatError(
            f"{where}: keyword MODEL = {text!r}: {found} is {kind}; fluxds reads the reference-model YAML "
            "only from a regular file beside the map file"
        )
    return found


def read_model_yaml(found: str | os.PathLike, *, keyword: str, where: str) -> tuple[SpectralModel, Any]:
    """The spectral model of the first component of a gammapy model YAML: read without following a
    link (``O_NOFOLLOW``, the open file checked to be regular), at most :data:`MAX_MODEL_BYTES`, parsed
    by :func:`fluxds.io.guard.yaml_safe.load_yaml` (safe loader, bounded aliases, no file text in messages).

    Returns
    -------
    (SpectralModel, object)
        The model and the component's ``name``.

    Raises
    ------
    FormatError
        Naming ``where``, the YAML and the keyword.
    """
    label = f"{where}: reference model {found} (keyword MODEL = {keyword!r})"
    try:
        fd = os.open(found, _OPEN_FLAGS)
    except OSError as exc:
        raise FormatError(f"{label}: cannot open it ({exc.strerror}; a link is not followed)") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FormatError(f"{label}: not a regular file")
        if info.st_size > MAX_MODEL_BYTES:
            raise FormatError(f"{label}: {info.st_size} bytes, more than a model YAML's {MAX_MODEL_BYTES}")
        data = os.pread(fd, info.st_size, 0)
    except OSError as exc:
        raise FormatError(f"{label}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    doc = load_yaml(text, path=found, what=f"reference model (keyword MODEL = {keyword!r})")
    components = doc.get("components") if isinstance(doc, dict) else None
    if not isinstance(components, list) or not components:
        raise FormatError(f"{label}: expected a gammapy model file with a 'components' list")
    for component in components:
        if isinstance(component, dict) and isinstance(component.get("spectral"), dict):
            try:
                return model_from_dict(component["spectral"]), component.get("name")
            except ModelError as exc:
                raise FormatError(f"{label}: {exc}") from None
    raise FormatError(f"{label}: no component has a 'spectral' model")


def resolve_model(
    keyword: str | None,
    saved: dict[str, Any] | None,
    fits_path: str | os.PathLike,
    *,
    where: str | None = None,
    origin: str = "component",
) -> tuple[SpectralModel | None, str | None]:
    """The reference model of a map file (WCS or HEALPix) and where it came from: the one resolver of the
    ``MODEL`` keyword.

    Parameters
    ----------
    keyword : str or None
        The ``MODEL`` keyword of the primary header.
    saved : dict or None
        The fluxds attributes embedded in the file (``FDSATTRS``); their ``reference_model`` wins.
    fits_path : path-like
        The FITS file (its folder is the only place the model YAML is looked for).
    where : str, optional
        The file and HDU for messages (default: ``fits_path``).
    origin : {"component", "path"}
        How the origin of a model from the YAML is worded: the keyword and the component's name
        (``"gammapy model file <keyword> (MODEL keyword), component '<name>'"``, flux maps) or the YAML's
        path (``"MODEL keyword: <path>"``, HEALPix maps): each family keeps the words its files have always
        read with.

    Returns
    -------
    (SpectralModel or None, str or None)
        The model and its origin (for an embedded model, the ``reference_model_origin`` saved with it);
        ``(None, None)`` when the file names no model.

    Raises
    ------
    FormatError
        The embedded model is invalid, or the YAML is missing (naming every path tried) or unreadable.
    """
    fits_path = str(fits_path)
    where = fits_path if where is None else where
    if saved and saved.get("reference_model"):
        text = saved["reference_model"]
        try:
            return model_from_json(text), saved.get("reference_model_origin")
        except ModelError as exc:
            raise FormatError(f"{where}: reference model in FDSATTRS: {exc}") from None
    if not keyword:
        return None, None
    found = model_file_beside(str(keyword), Path(fits_path).parent, where)
    model, component = read_model_yaml(found, keyword=str(keyword), where=where)
    if origin == "path":
        return model, f"MODEL keyword: {found}"
    return model, f"gammapy model file {keyword} (MODEL keyword), component {component!r}"


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


def _metadata_text(flux_map: str | None) -> str:
    """The ``metadata`` block that ends every model YAML fluxds writes: the creator and, if given, the
    name of the FITS file the YAML was written for (bytes that are not UTF-8 as ``\\xNN``)."""
    metadata = {"creator": "fluxds"}
    if flux_map is not None:
        metadata["flux_map"] = os.fsencode(flux_map).decode("utf-8", "backslashreplace")
    return yaml.safe_dump({"metadata": metadata}, sort_keys=False)


def model_yaml_text(model: SpectralModel, name: str = "reference", *, flux_map: str | None = None) -> str:
    """A gammapy model YAML holding ``model`` as the spectral part of one ``SkyModel`` component.

    Parameters
    ----------
    model : SpectralModel
    name : str
        The component's name.
    flux_map : str, optional
        The file name (no folder) of the flux map the YAML goes with, recorded in its ``metadata``
        (gammapy ignores it), so that replacing another map never removes this YAML.

    Returns
    -------
    str
    """
    doc = {"components": [{"name": name, "type": "SkyModel", "spectral": _gammapy_spectral(model)}]}
    return yaml.safe_dump(doc, sort_keys=False) + _metadata_text(flux_map)


def write_model_yaml(ds_attrs: dict[str, Any], fits_path: Path, model_file) -> tuple[str, Path] | None:
    """Write the reference model to a new YAML beside the FITS file (gammapy reads it); never overwrites.

    The YAML gets the name asked for (``model_file``: True for ``<stem>_model.yaml`` beside the FITS file,
    or a path) if no entry holds it, else a unique variant ``<name>-<8 hex digits>.yaml`` beside it, so
    that an old flux map and the model it names stay together until the new FITS file replaces the old
    one (:func:`fluxds.io.wcs_map.write.write`).

    Parameters
    ----------
    ds_attrs : dict
        The Dataset's attributes (``reference_model`` as JSON).
    fits_path : pathlib.Path
        The flux-map file the YAML goes with.
    model_file : bool or path-like
        As for :func:`fluxds.io.wcs_map.write.write`; False/None: no side file.

    Returns
    -------
    (str, pathlib.Path) or None
        The ``MODEL`` keyword value (relative to the FITS file's folder where possible) and the YAML
        written; None when nothing is written (no model, several models, or not asked).
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
        wanted = fits_path.with_name(f"{stem}_model.yaml")
    else:
        wanted = Path(model_file)
        if not wanted.is_absolute():
            wanted = fits_path.parent / wanted
    content = model_yaml_text(model, flux_map=fits_path.name)
    for attempt in range(20):
        target = wanted if attempt == 0 else wanted.with_name(f"{wanted.stem}-{secrets.token_hex(4)}.yaml")
        if os.path.lexists(target):
            continue
        try:
            with atomic_path(target, overwrite=False) as tmp:
                tmp.write_text(content, encoding="utf-8")
        except OverwriteError:  # appeared meanwhile: another name
            continue
        break
    else:
        raise FormatError(f"{fits_path}: could not find a free name for the model YAML beside {wanted}")
    try:
        keyword = target.resolve().relative_to(fits_path.resolve().parent).as_posix()
    except ValueError:
        keyword = str(target.resolve())
    return keyword, target


def written_by_fluxds(name: str, dir_fd: int | None = None, *, flux_map: str | None = None) -> bool:
    """Whether the regular file ``name`` (never followed if a link) is a model YAML fluxds wrote.

    Parameters
    ----------
    name : str
        The YAML (relative to ``dir_fd`` if given).
    dir_fd : int, optional
        An open folder.
    flux_map : str, optional
        Also require that the YAML records that it was written for the flux map of this file name (no
        folder); a YAML written for another map, or by a fluxds that recorded no map, does not count.

    Returns
    -------
    bool
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        head = os.pread(fd, 64, 0)
        tail = os.pread(fd, _YAML_TAIL, max(0, st.st_size - _YAML_TAIL))
    finally:
        os.close(fd)
    if not head.startswith(b"components:"):
        return False
    if flux_map is not None:
        return tail.endswith(b"\n" + _metadata_text(flux_map).encode("utf-8"))
    at = tail.rfind(_FLUXDS_MARK)
    return tail.endswith(_FLUXDS_MARK) or (at >= 0 and tail[at + len(_FLUXDS_MARK) :].startswith(_MAP_RECORD))


def remove_replaced_model(old_keyword: str | None, fits_path: Path, new_yaml: Path | None) -> Path | None:
    """After a flux map was replaced: remove the model YAML the old file named, if fluxds wrote it for
    this FITS file.

    Only a plain file name beside the FITS file (no folder part), a regular file (not a link) holding a
    model YAML written by fluxds that records this FITS file's name (:func:`model_yaml_text`), and not the
    YAML of the new file, is removed; anything else is left: the YAML of another map (the replaced file
    was a copy of it, or came from elsewhere naming it), or one written by a fluxds that recorded no map.

    Returns
    -------
    pathlib.Path or None
        The YAML removed.
    """
    if not old_keyword or "/" in old_keyword or "\\" in old_keyword or old_keyword in (".", ".."):
        return None
    old = fits_path.parent / old_keyword
    if (
        new_yaml is not None
        and old.name == new_yaml.name
        and old.parent.resolve() == new_yaml.parent.resolve()
    ):
        return None
    if not written_by_fluxds(str(old), flux_map=fits_path.name):
        return None
    with contextlib.suppress(FileNotFoundError):
        old.unlink()
        return old
    return None
