"""Collections: points of several members (sources, papers) with their own bins along one dimension."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from helpers import WRITTEN

import fluxds
from fluxds import collection
from fluxds.construct import from_sed
from fluxds.errors import SchemaError
from fluxds.validate import order_problems

DNDE = u.Unit("cm-2 s-1 TeV-1")


@pytest.fixture(scope="module")
def sed():
    return fluxds.read(WRITTEN / "fp_likelihood.fits")


def _shifted(ds: xr.Dataset, factor: float, name: str) -> xr.Dataset:
    """The SED with its bins scaled by ``factor`` (other bins than ``ds``), named ``name``."""
    out = ds.assign_coords(
        energy=ds.energy * factor, energy_min=ds.energy_min * factor, energy_max=ds.energy_max * factor
    )
    return out.assign_coords(source=name)


def test_stack_members_keeps_every_member_exactly(sed):
    a, b = _shifted(sed, 1.0, "A"), _shifted(sed.isel(energy=slice(1, 4)), 1.3, "B")
    col = collection.stack_members([a, b])
    assert col.sizes["energy"] == sed.sizes["energy"] + 3
    assert collection.member_label(col) == "source"
    assert collection.members(col) == ["A", "B"]
    assert col["gti_start"].dims == ("gti",)  # equal in both parts: not broadcast along the points
    for name, part in (("A", a), ("B", b)):
        one = collection.member(col, name)
        np.testing.assert_array_equal(one.energy.values, part.energy.values)
        np.testing.assert_allclose(one.sed.e2dnde.values, part.sed.e2dnde.values, rtol=1e-15)
        np.testing.assert_array_equal(one.sed.is_ul.values, part.sed.is_ul.values)
    assert not order_problems(col)


def test_stack_members_refuses_duplicates_and_nameless(sed):
    with pytest.raises(SchemaError, match="duplicate member names"):
        collection.stack_members([_shifted(sed, 1, "A"), _shifted(sed, 2, "A")])
    with pytest.raises(SchemaError, match="no scalar 'source'"):
        collection.stack_members([sed.drop_vars("source", errors="ignore")])


def test_collection_from_grid_drops_padding_and_broadcasts_positions(sed):
    grid = xr.concat(
        [sed, sed], dim=xr.DataArray(["X", "Y"], dims="source", name="source"), coords="minimal"
    ).assign_coords(
        ra=("source", [10.0, 20.0], {"units": "deg"}), dec=("source", [0.0, 1.0], {"units": "deg"})
    )
    # member Y with NaN-padded last bin, as a catalog's vector columns are
    energies = np.stack([sed.energy.values, np.r_[sed.energy.values[:-1], np.nan]])
    grid = grid.drop_vars("energy").assign_coords(energy=(("source", "energy"), energies))
    col = collection.collection_from_grid(grid)
    n = sed.sizes["energy"]
    assert col.sizes["energy"] == 2 * n - 1
    assert list(col.ra.values) == [10.0] * n + [20.0] * (n - 1)
    np.testing.assert_allclose(collection.member(col, "Y").sed.dnde.values, sed.sed.dnde.values[:-1])


def test_select_by_source_cone_and_time(sed):
    col = collection.stack_members([_shifted(sed, 1, "A"), _shifted(sed, 1.2, "B")])
    n = sed.sizes["energy"]
    col = col.assign_coords(
        ra=("energy", np.r_[np.full(n, 83.6), np.full(n, 10.0)], {"units": "deg"}),
        dec=("energy", np.r_[np.full(n, 22.0), np.full(n, -30.0)], {"units": "deg"}),
    )
    assert collection.members(collection.select(col, source="B")) == ["B"]
    crab = SkyCoord(83.63, 22.01, unit="deg")
    assert collection.members(collection.select(col, region=(crab, 0.5 * u.deg))) == ["A"]
    assert collection.select(col, region=(crab, 0.5 * u.deg), source="B").sizes["energy"] == 0
    lc = fluxds.read(WRITTEN / "lc_flux.fits")
    t = fluxds.timeaxis.astropy_time(lc, "time_min").mjd
    t_max = fluxds.timeaxis.astropy_time(lc, "time_max").mjd
    inside = collection.select(lc, time=(t[1] - 1e-6, t_max[2] + 1e-6))
    assert inside.sizes["time"] == 2


def test_select_by_regions_shape(sed):
    regions = pytest.importorskip("regions")
    grid = xr.concat(
        [sed, sed, sed], dim=xr.DataArray(["A", "B", "C"], dims="source", name="source"), coords="minimal"
    ).assign_coords(ra=("source", [83.6, 84.5, 120.0]), dec=("source", [22.0, 22.0, 22.0]))
    circle = regions.CircleSkyRegion(SkyCoord(84.0, 22.0, unit="deg"), 1.0 * u.deg)
    assert list(collection.select(grid, region=circle).source.values) == ["A", "B"]


def test_from_sed_with_member_labels_derives_edges_per_member():
    e_ref = np.array([1.0, 2.0, 4.0, 1.5, 3.0]) * u.TeV
    ds = from_sed(
        "dnde",
        {"dnde": np.full(5, 1e-12) * DNDE},
        energy_ref=e_ref,
        coords={"paper": ("energy", ["hess", "hess", "hess", "magic", "magic"])},
        derive_edges=True,
    )
    # hand calculation: log midpoints between neighbours of the same paper, outer edges mirrored
    expected_min = [1 / np.sqrt(2), np.sqrt(2), np.sqrt(8), 1.5 / np.sqrt(2), np.sqrt(4.5)]
    expected_max = [np.sqrt(2), np.sqrt(8), 4**2 / np.sqrt(8), np.sqrt(4.5), 3**2 / np.sqrt(4.5)]
    np.testing.assert_allclose(ds.energy_min.values, expected_min, rtol=1e-14)
    np.testing.assert_allclose(ds.energy_max.values, expected_max, rtol=1e-14)
    assert collection.members(ds) == ["hess", "magic"]


def test_order_checked_within_each_member_only():
    ok = from_sed(
        "dnde",
        {"dnde": np.full(4, 1e-12) * DNDE},
        energy_ref=np.array([1.0, 2.0, 1.0, 2.0]) * u.TeV,
        coords={"paper": ("energy", ["a", "a", "b", "b"])},
    )
    assert not order_problems(ok)
    with pytest.raises(SchemaError) as info:
        from_sed(
            "dnde",
            {"dnde": np.full(3, 1e-12) * DNDE},
            energy_ref=np.array([1.0, 2.0, 1.5]) * u.TeV,
            coords={"paper": ("energy", ["a", "a", "a"])},
        )
    assert "within each 'paper'" in info.value.problems[0]
    assert "found 2.0 TeV at index 1 then 1.5 TeV at index 2" in info.value.problems[0]
    with pytest.raises(SchemaError, match="must increase strictly along 'energy'"):
        from_sed("dnde", {"dnde": np.full(2, 1e-12) * DNDE}, energy_ref=np.array([2.0, 1.0]) * u.TeV)


def test_not_increasing_within_members_is_vectorised_hand_case():
    values = np.array([1.0, 5.0, 2.0, 3.0, 2.5, 6.0])
    codes = np.array([0, 1, 0, 0, 1, 1])
    # member 0: 1, 2, 3 (fine); member 1: 5, 2.5 (bad at position 4), 6
    assert collection.not_increasing_within_members(values, codes) == 4
    assert collection.not_increasing_within_members(np.array([1.0, 0.5]), np.array([0, 1])) is None


def test_select_keeps_only_the_selected_sources_models(sed):
    import json

    grid = xr.concat([sed, sed], dim=xr.DataArray(["A", "B"], dims="source", name="source"), coords="minimal")
    model = json.loads(sed.attrs["reference_model"])
    grid.attrs["reference_model"] = json.dumps({"by_source": {"A": model, "B": model}})
    one = collection.select(grid, source="B")
    assert list(json.loads(one.attrs["reference_model"])["by_source"]) == ["B"]
    assert list(json.loads(grid.attrs["reference_model"])["by_source"]) == ["A", "B"]  # not changed


@pytest.mark.parametrize("operation", ["resample", "combine"])
def test_merging_bins_of_a_collection_is_refused(sed, operation):
    col = collection.stack_members([_shifted(sed, 1, "A"), _shifted(sed, 1.3, "B")])
    call = {
        "resample": lambda ds: ds.sed.resample("energy", group_size=2),
        "combine": lambda ds: ds.sed.combine("energy"),
    }[operation]
    with pytest.raises(SchemaError, match=f"{operation} along 'energy': this Dataset is a collection"):
        call(col)
    one = call(col.sed.member("A"))  # member by member, as the message says
    assert one.sizes.get("energy", 1) <= sed.sizes["energy"]


def test_stack_members_fills_what_only_some_members_have(sed):
    a = _shifted(sed, 1, "A").assign_coords(source_id=("energy", np.arange(sed.sizes["energy"])))
    b = _shifted(sed, 1.3, "B").drop_vars(["energy_min", "energy_max"])
    col = collection.stack_members([a, b])
    n = sed.sizes["energy"]
    assert np.isnan(col.energy_min.values[n:]).all() and np.isfinite(col.energy_min.values[:n]).all()
    assert np.isnan(col.source_id.values[n:].astype(float)).all()
    np.testing.assert_allclose(col.sed.member("B").sed.dnde.values, b.sed.dnde.values)
