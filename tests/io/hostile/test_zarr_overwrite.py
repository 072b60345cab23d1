"""Attack review of issue 12 (item 7, "overwrite only fluxds's own kind of output").

- ``replaceable._is_zarr_node`` accepts any entry of a zarr *array* whose name looks like a chunk
  (``c``, digits) without looking inside it: a folder ``norm/c/`` holding ``thesis.tex`` and a sub-folder
  passes as "a zarr store fluxds wrote" and is deleted by ``overwrite=True``.
- ``replaceable._node_type`` parses ``zarr.json`` with ``json.loads``, which raises ``RecursionError`` on
  deep nesting: ``fluxds.write(ds, "x.zarr", overwrite=True)`` (and ``fluxds convert ... --overwrite``)
  ended in a raw ``RecursionError`` ("unexpected RecursionError ... a fluxds bug") instead of a
  ``FluxdsError``. (Were the target to change between the up-front check and the exchange, the same
  exception raised in ``placing.replace`` after ``RENAME_EXCHANGE`` would leave the old entry in the
  private directory, whose clean-up deletes it.)
"""

from __future__ import annotations

import warnings

import pytest

import fluxds

pytest.importorskip("zarr")


def _store(path):
    ds = fluxds.read(fluxds.demo_path())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, path)
    return ds


def test_zarr_overwrite_refuses_other_files_inside_a_chunk_folder(tmp_path):
    store = tmp_path / "s.zarr"
    ds = _store(store)
    (store / "norm" / "c" / "chapter1").mkdir()
    (store / "norm" / "c" / "thesis.tex").write_text("my thesis")
    (store / "norm" / "c" / "chapter1" / "intro.tex").write_text("intro")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(fluxds.OverwriteError, match="thesis.tex|chapter1"):
            fluxds.write(ds, store, overwrite=True)
    assert (store / "norm" / "c" / "thesis.tex").read_text() == "my thesis"
    assert (store / "norm" / "c" / "chapter1" / "intro.tex").read_text() == "intro"


def test_deeply_nested_zarr_json_is_a_fluxds_error(tmp_path):
    store = tmp_path / "x.zarr"
    (store / "arr").mkdir(parents=True)
    (store / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    (store / "arr" / "zarr.json").write_text("[" * 100_000 + "]" * 100_000)
    ds = fluxds.read(fluxds.demo_path())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(fluxds.FluxdsError) as info:
            fluxds.write(ds, store, overwrite=True)
    assert str(store) in str(info.value)
    assert (store / "arr" / "zarr.json").stat().st_size == 200_000


def test_zarr_overwrite_still_replaces_its_own_chunk_folders(tmp_path):
    """Nested chunk folders (zarr 3 "c/0/0") of a store fluxds wrote stay replaceable; a chunk folder
    deeper than the array's dimensions is not."""
    store = tmp_path / "s.zarr"
    ds = _store(store)
    assert (store / "norm_scan" / "c" / "0" / "0").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, store, overwrite=True)
        (store / "norm" / "c" / "1" / "0").mkdir(parents=True)  # norm has one dimension
        (store / "norm" / "c" / "1" / "0" / "0").write_bytes(b"x")
        with pytest.raises(fluxds.OverwriteError, match="deeper than the array's chunks"):
            fluxds.write(ds, store, overwrite=True)
