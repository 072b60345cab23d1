"""The ``MODEL`` keyword of a flux map from elsewhere (issue 12, item 4): the model YAML is read only
beside the map, by file name, from a regular file; its YAML is loaded safely (bounded aliases, no
deep-nesting crash) and a parse error never echoes the file's text. Both resolvers are covered: WCS flux
maps (:mod:`fluxds.io.model_file`) and HEALPix maps (:mod:`fluxds.io.healpix_map.read`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits
from helpers import WRITTEN

import fluxds
from fluxds.io.guard.yaml_safe import check_yaml, load_yaml

MAPS = {"wcs": "fm_excess", "healpix": "fm_hpx"}
BILLION_LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{k}: &{k} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "components: [{name: x, spectral: *i}]\n"
)


def _map(tmp_path: Path, kind: str, keyword: str) -> Path:
    """A copy of a gammapy-written map (without its YAML) whose MODEL keyword is ``keyword``."""
    folder = tmp_path / "maps"
    folder.mkdir(exist_ok=True)
    path = folder / f"{MAPS[kind]}.fits"
    with fits.open(WRITTEN / f"{MAPS[kind]}.fits") as hdul:
        hdul[0].header["MODEL"] = keyword
        hdul.writeto(path, overwrite=True)
    return path


def _secret_model(tmp_path: Path) -> Path:
    """A valid model YAML outside the map's folder, with an amplitude that only it holds."""
    text = (WRITTEN / "fm_excess_model.yaml").read_text()
    outside = tmp_path / "elsewhere" / "secret_model.yaml"
    outside.parent.mkdir()
    outside.write_text(text.replace("components:", "# TOP-SECRET-LINE\ncomponents:"))
    return outside


@pytest.mark.parametrize("kind", MAPS)
def test_absolute_model_path_is_not_opened(tmp_path, kind):
    """MODEL = an absolute path: only its file name is looked for, beside the map."""
    outside = _secret_model(tmp_path)
    path = _map(tmp_path, kind, str(outside))
    with pytest.raises(fluxds.FormatError, match="only beside the map file") as info:
        fluxds.read(path)
    assert "TOP-SECRET" not in str(info.value)
    assert str(path.parent / "secret_model.yaml") in str(info.value)
    shutil.copy(WRITTEN / f"{MAPS[kind]}_model.yaml", path.parent / "secret_model.yaml")  # the one beside
    assert fluxds.read(path).sed.reference_model is not None


@pytest.mark.parametrize("kind", MAPS)
def test_relative_model_path_with_folders_is_read_beside(tmp_path, kind, monkeypatch):
    """gammapy writes MODEL = 'out/x_model.yaml' when the map goes into a folder: the name is looked
    for beside the map; '..' and the current directory are never used."""
    outside = _secret_model(tmp_path)
    monkeypatch.chdir(outside.parent)
    path = _map(tmp_path, kind, "../elsewhere/secret_model.yaml")
    with pytest.raises(fluxds.FormatError, match="only beside the map file"):
        fluxds.read(path)
    for bad in ("..", "maps/..", "/", "a/b/."):
        path = _map(tmp_path, kind, bad)
        with pytest.raises(fluxds.FormatError, match="does not end in a file name"):
            fluxds.read(path)


@pytest.mark.parametrize("kind", MAPS)
def test_model_beside_that_is_a_link_or_special_file_is_refused(tmp_path, kind):
    outside = _secret_model(tmp_path)
    path = _map(tmp_path, kind, "linked_model.yaml")
    (path.parent / "linked_model.yaml").symlink_to(outside)
    with pytest.raises(fluxds.FormatError, match="is a symbolic link") as info:
        fluxds.read(path)
    assert "TOP-SECRET" not in str(info.value)
    path = _map(tmp_path, kind, "fifo_model.yaml")
    os.mkfifo(path.parent / "fifo_model.yaml")
    with pytest.raises(fluxds.FormatError, match="not a regular file"):
        fluxds.read(path)
    path = _map(tmp_path, kind, "folder_model.yaml")
    (path.parent / "folder_model.yaml").mkdir()
    with pytest.raises(fluxds.FormatError, match="not a regular file"):
        fluxds.read(path)


@pytest.mark.parametrize("kind", MAPS)
def test_yaml_parse_error_does_not_echo_the_file(tmp_path, kind):
    path = _map(tmp_path, kind, "broken_model.yaml")
    broken = "components: [a\nroot:x:0:0:TOP-SECRET-LINE: /root: /bin/bash\n"
    (path.parent / "broken_model.yaml").write_text(broken)
    with pytest.raises(fluxds.FormatError, match=r"not valid YAML .* at line 2") as info:
        fluxds.read(path)
    assert "TOP-SECRET" not in str(info.value) and "root:x" not in str(info.value)


@pytest.mark.parametrize("kind", MAPS)
def test_model_yaml_alias_bomb_is_refused(tmp_path, kind):
    """Ten lines of nested aliases expand to 10^9 nodes: refused from the composed graph, at once."""
    path = _map(tmp_path, kind, "bomb_model.yaml")
    (path.parent / "bomb_model.yaml").write_text(BILLION_LAUGHS)
    with pytest.raises(fluxds.FormatError, match="aliases expand the document to more than 1000000 nodes"):
        fluxds.read(path)


def test_model_yaml_too_large_is_refused(tmp_path, monkeypatch):
    import fluxds.io.model_file as map_model

    path = _map(tmp_path, "wcs", "big_model.yaml")
    shutil.copy(WRITTEN / "fm_excess_model.yaml", path.parent / "big_model.yaml")
    monkeypatch.setattr(map_model, "MAX_MODEL_BYTES", 100)
    with pytest.raises(fluxds.FormatError, match="more than a model YAML's 100"):
        fluxds.read(path)


def test_load_yaml_refuses_recursion_deep_nesting_and_python_tags():
    with pytest.raises(fluxds.FormatError, match="recursive alias"):
        load_yaml("a: &a [1, *a]", path="m.yaml", what="model")
    with pytest.raises(fluxds.FormatError, match="nested deeper than 100 levels"):
        load_yaml("[" * 200_000 + "]" * 200_000, path="m.yaml", what="model")
    with pytest.raises(fluxds.FormatError, match="cannot construct the YAML"):
        load_yaml("!!python/object/apply:os.system ['true']", path="m.yaml", what="model")
    assert check_yaml("a: &a [1, 2]\nb: *a", path="m.yaml", what="model") == 9
    assert load_yaml("a: &a {x: 1}\nb: {<<: *a, y: 2}", path="m.yaml", what="model") == {
        "a": {"x": 1},
        "b": {"x": 1, "y": 2},
    }


def test_deep_nesting_does_not_crash_the_process():
    """PyYAML's C loader overflows the C stack on deep nesting (the process dies, no exception); the
    shared helper uses the pure-Python loader and a depth limit. In a child process: a crash fails."""
    code = (
        "from fluxds.io.guard.yaml_safe import load_yaml\n"
        "import fluxds\n"
        "try:\n"
        "    load_yaml('[' * 10**6 + ']' * 10**6, path='m.yaml', what='model')\n"
        "except fluxds.FormatError as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("REFUSED"), done.stdout + done.stderr
