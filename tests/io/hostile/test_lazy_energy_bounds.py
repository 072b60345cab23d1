"""Attack review of issue 12 (read budget, zarr, ``chunks=``): the CF energy bounds are computed in full
during a lazy read, although only one chunk of them was checked against the budget.

``zarr_store._plan(lazy=True)`` checks one chunk of every non-index variable, ``energy_bounds`` included,
but ``cf.decode`` then takes ``out["energy_bounds"].values``: a store declaring ``energy_bounds`` of shape
(5, 50_000_000) in chunks of (5, 1000), with no chunk stored (all fill value), made
``fluxds.read(store, chunks={}, max_bytes="256MiB")`` materialise ~4 GB (peak resident memory) before
validation refused the NaN edges.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import warnings

import pytest

import fluxds

pytest.importorskip("zarr")

_CHILD = textwrap.dedent(
    """
    import resource, sys, warnings
    # a regression must fail here, not take 4 GB of a shared machine
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
    warnings.simplefilter("ignore")
    import fluxds
    fluxds.read(fluxds.demo_path()).load()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        fluxds.read(sys.argv[1], chunks={}, max_bytes="256MiB")
        outcome = "read"
    except fluxds.FluxdsError as exc:
        outcome = "refused: " + str(exc)[:300].replace("\\n", " ")
    except BaseException as exc:
        outcome = "raw " + type(exc).__name__
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
    print(outcome)
    """
)


def test_lazy_read_does_not_materialise_huge_bounds(tmp_path):
    store = tmp_path / "nv.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(fluxds.read(fluxds.demo_path()), store)

    def widen(meta):
        meta["shape"] = [5, 50_000_000]
        meta["chunk_grid"]["configuration"]["chunk_shape"] = [5, 1000]
        return meta

    path = store / "energy_bounds" / "zarr.json"
    path.write_text(json.dumps(widen(json.loads(path.read_text()))))
    top = json.loads((store / "zarr.json").read_text())
    widen(top["consolidated_metadata"]["metadata"]["energy_bounds"])
    (store / "zarr.json").write_text(json.dumps(top))
    shutil.rmtree(store / "energy_bounds" / "c")
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(store)], capture_output=True, text=True, timeout=300
    )
    grew, outcome = run.stdout.strip().splitlines()[-2:]
    assert outcome.startswith("refused"), outcome
    assert int(grew) < 512 * 2**20, f"peak resident memory grew by {int(grew) / 2**20:.0f} MiB: {outcome}"


def test_bounds_of_another_shape_are_refused_before_loading(tmp_path):
    """cf.decode requires energy bounds of shape (energy, 2) before it loads them."""
    import numpy as np
    import xarray as xr

    from fluxds.io.cf.encoding import decode, encode

    encoded = encode(fluxds.read(fluxds.demo_path()))
    wide = encoded.drop_vars("energy_bounds").assign_coords(
        energy_bounds=(("energy", "bounds2"), np.zeros((encoded.sizes["energy"], 3)))
    )
    with pytest.raises(
        fluxds.FormatError, match=r"here.zarr: variable 'energy_bounds' has .* shape \(5, 3\)"
    ):
        decode(wide, where="here.zarr")
    assert isinstance(decode(encoded, where="here.zarr"), xr.Dataset)
