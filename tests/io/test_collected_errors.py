"""A reader reports every problem of a file in one error, not the first (issue 15 item 2): numbered in the
message, listed in ``.problems``, each problem's own exception in the ``ExceptionGroup`` of ``__cause__``;
the error derives from the class of each problem, so ``except UnitError`` still catches a missing unit
reported together with a bad energy. A single problem is raised exactly as before."""

from __future__ import annotations

import pickle
import shutil
import sys

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from helpers import WRITTEN

import fluxds
from fluxds.errors import FormatError, Problems, SchemaError, UnitError, collected_error

DNDE = u.Unit("cm-2 s-1 TeV-1")


def _sed_table(**replace) -> Table:
    table = Table()
    table["e_min"] = [1.0, 2.0, 4.0] * u.TeV
    table["e_max"] = [2.0, 4.0, 8.0] * u.TeV
    table["dnde"] = [1e-11, 2e-12, 3e-13] * DNDE
    table["dnde_err"] = [1e-12, 2e-13, 3e-14] * DNDE
    table["dnde_ul"] = [2e-11, 4e-12, 6e-13] * DNDE
    for name, column in replace.items():
        table[name] = column
    table.meta["SED_TYPE"] = "dnde"
    return table


def _write(table: Table, path) -> str:
    table.write(path, overwrite=True)
    return str(path)


def test_three_bad_columns_in_one_error(tmp_path):
    """A negative error, a wrong unit and a non-finite energy edge: all three in one error."""
    path = _write(
        _sed_table(
            e_min=[1.0, 2.0, np.nan] * u.TeV,
            dnde_err=[1e-12, -2e-13, 3e-14] * DNDE,
            dnde_ul=[2e-11, 4e-12, 6e-13] * u.deg,
        ),
        tmp_path / "bad.fits",
    )
    with pytest.raises(FormatError) as info:
        fluxds.read(path)
    exc = info.value
    assert len(exc.problems) == 3
    message = str(exc)
    assert message.startswith(f"{path}[HDU 1]: 3 problems\n  1. ")
    assert "'e_min' must be finite and > 0; found nan TeV in bin 2" in exc.problems[0]
    assert "'dnde_ul' has unit 'degree'" in exc.problems[1]
    assert exc.problems[2].startswith("column 'dnde_err' has 1 negative value(s), first -2e-13 in row 1")
    for i, problem in enumerate(exc.problems, start=1):
        assert f"  {i}. {problem}" in message
    # every except that caught one of them alone still catches them together
    assert isinstance(exc, UnitError) and isinstance(exc, SchemaError) and isinstance(exc, fluxds.FluxdsError)
    if sys.version_info >= (3, 11):
        assert isinstance(exc.__cause__, ExceptionGroup)  # noqa: F821
        assert len(exc.__cause__.exceptions) == 3


def test_bad_columns_and_a_missing_one_together(tmp_path):
    """Column problems (no unit, text) found while reading the columns are reported with a missing
    energy column: the user fixes them in one run."""
    table = Table(
        {
            "e_ref": [1.0, 2.0],  # no unit
            "dnde": [1e-11, 1e-12] * DNDE,
            "dnde_err": ["a", "b"],  # text
            "ts": [4.0, 9.0],
        }
    )
    table.meta["SED_TYPE"] = "dnde"
    path = _write(table, tmp_path / "cols.fits")
    with pytest.raises(UnitError, match=r"column 'e_ref' has no unit") as info:
        fluxds.read(path)
    assert len(info.value.problems) == 2
    assert "column 'dnde_err' holds text, expected numbers" in info.value.problems[1]
    assert "energy columns missing" not in str(info.value)  # e_ref is there, only unreadable


def test_every_missing_unit_at_once(tmp_path):
    table = Table({"e_ref": [1.0, 2.0], "dnde": [1e-11, 1e-12], "dnde_err": [1e-12, 1e-13]})
    path = _write(table, tmp_path / "units.fits")
    with pytest.raises(UnitError) as info:
        fluxds.read(path)
    assert [p.split(" has no unit")[0] for p in info.value.problems] == [
        "column 'e_ref'",
        "column 'dnde'",
        "column 'dnde_err'",
    ]


def test_a_single_problem_is_raised_as_before(tmp_path):
    path = _write(_sed_table(dnde_ul=[2e-11, 4e-12, 6e-13] * u.deg), tmp_path / "one.fits")
    with pytest.raises(UnitError) as info:
        fluxds.read(path)
    assert type(info.value) is UnitError  # not a collection of one
    assert str(info.value).startswith(f"{path}[HDU 1]: 'dnde_ul' has unit 'degree'")
    assert info.value.problems == []


def test_negative_values_alone_are_left_to_the_physics_check(tmp_path):
    """A table that reads, whose only problem is a negative error: fluxds.read's physics check reports it,
    worded as ever (the reader adds its own column check only to other problems)."""
    path = _write(_sed_table(dnde_err=[1e-12, -2e-13, 3e-14] * DNDE), tmp_path / "neg.fits")
    with pytest.raises(SchemaError, match=r"impossible values\n  - variable 'norm_err'"):
        fluxds.read(path)


def test_from_sed_reports_energies_column_and_units_together():
    with pytest.raises(FormatError) as info:
        fluxds.from_sed(
            "flux",
            {"eflux_err": [1.0, 2.0] * u.erg, "ref_flux": [1.0, 2.0], "ts": [1.0, 2.0] * u.TeV},
            energy_min=[1.0, np.inf] * u.TeV,
            energy_max=[2.0, 4.0] * u.deg,
            where="mine",
        )
    problems = info.value.problems
    assert len(problems) == 5, problems
    assert "'e_min' must be finite and > 0" in problems[0]
    assert "'e_max' has unit deg, which is not an energy" in problems[1]
    assert "needs a 'flux' column" in problems[2]
    assert "'ref_flux' is given without a unit" in problems[3]
    assert "'ts' has unit 'TeV'" in problems[4]
    assert str(info.value).startswith("mine: 5 problems\n")


def test_profile_table_problems_at_once(tmp_path):
    table = Table.read(WRITTEN / "profile_likelihood.fits", hdu="FLUXPOINTS")
    table["x_ref"].unit = u.TeV  # not an angle
    table["e_min"] = table["e_min"].value * u.deg  # not an energy
    table["norm_err"][0, 0] = -1.0  # negative
    path = tmp_path / "profile.fits"
    table.write(path)
    with pytest.raises(FormatError) as info:
        fluxds.read(path, format="profile")
    problems = info.value.problems
    assert any("column 'x_ref' has unit" in p and "expected an angle" in p for p in problems), problems
    assert any("'e_min' has unit deg, which is not an energy" in p for p in problems), problems
    assert any(
        p.startswith("column 'norm_err' has 1 negative value(s)") and "in region 0" in p for p in problems
    )


def test_flux_map_bands_problems_of_every_hdu(tmp_path):
    path = tmp_path / "fm.fits"
    shutil.copy(WRITTEN / "fm_excess.fits", path)
    shutil.copy(WRITTEN / "fm_excess_model.yaml", tmp_path / "fm_excess_model.yaml")
    with fits.open(path, mode="update") as hdul:
        for name in ("NORM_BANDS", "TS_BANDS"):
            hdul[name].columns["E_MIN"].unit = "deg"
    with pytest.raises(FormatError) as info:
        fluxds.read(path)
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert problems[0].startswith(
        "[NORM_BANDS]: column 'E_MIN' must hold energies with a unit (TUNIT), found deg"
    )
    assert problems[1].startswith("[TS_BANDS]: column 'E_MIN' must hold energies")


def test_healpix_map_problems_of_every_hdu(tmp_path):
    path = tmp_path / "hpx.fits"
    shutil.copy(WRITTEN / "fm_hpx.fits", path)
    shutil.copy(WRITTEN / "fm_hpx_model.yaml", tmp_path / "fm_hpx_model.yaml")
    with fits.open(path, mode="update") as hdul:
        hdul["NORM_BANDS"].columns["E_MAX"].unit = "deg"
        hdul["TS"].header["ORDERING"] = "SPIRAL"
    with pytest.raises(FormatError) as info:
        fluxds.read(path)
    text = "\n".join(info.value.problems)
    assert len(info.value.problems) == 2, text
    assert "[NORM_BANDS]: column 'E_MAX' must hold energies" in text
    assert "[TS]: keyword ORDERING is 'SPIRAL'" in text


def test_tscube_scandata_and_ebounds_problems_at_once(tmp_path):
    path = tmp_path / "tscube.fits"
    shutil.copy(WRITTEN.parent / "gadf-spec" / "tscube_lowts.fits.gz", tmp_path / "tscube.fits.gz")
    with fits.open(tmp_path / "tscube.fits.gz") as hdul:
        hdul["EBOUNDS"].columns["E_MIN"].unit = "deg"
        scandata = hdul["SCANDATA"]
        cols = [c for c in scandata.columns if c.name != "NORM"]
        hdul["SCANDATA"] = fits.BinTableHDU.from_columns(cols, header=scandata.header, name="SCANDATA")
        hdul.writeto(path)
    with pytest.raises(FormatError) as info:
        fluxds.read(path)
    text = "\n".join(info.value.problems)
    assert len(info.value.problems) == 2, text
    assert "[EBOUNDS]: column 'E_MIN' must hold energies" in text
    assert "[SCANDATA]: no NORM column" in text


def test_collected_error_pickles_and_flattens():
    inner = collected_error("f.fits", [UnitError("f.fits: a"), SchemaError("f.fits: b")])
    outer = collected_error("f.fits", [inner, FormatError("f.fits: c")])
    assert outer.problems == ["a", "b", "c"]
    back = pickle.loads(pickle.dumps(outer))
    assert type(back) is type(outer) and str(back) == str(outer) and back.problems == outer.problems
    assert isinstance(back, UnitError) and isinstance(back, FormatError)


def test_problems_collector_raises_nothing_without_problems_and_one_as_it_is():
    problems = Problems("f.fits")
    problems.raise_if_any()
    one = FormatError("f.fits: only this")
    problems.add(one)
    with pytest.raises(FormatError) as info:
        problems.raise_if_any()
    assert info.value is one


def test_write_option_unknown_to_the_format(tmp_path):
    ds = fluxds.read(WRITTEN / "fp_dnde.fits")
    target = tmp_path / "out.fits"
    with pytest.raises(FormatError) as info:
        ds.sed.write(target, layout="gammapy")
    message = str(info.value)
    assert str(target) in message and "'gadf-sed'" in message and "'layout'" in message
    assert "takes no option" in message
    assert not target.exists()
    with pytest.raises(
        FormatError, match=r"'netcdf' format has no write option 'bogus'; it takes engine=, encoding="
    ):
        ds.sed.write(tmp_path / "out.nc", bogus=1)
    lc = fluxds.read(WRITTEN / "lc_flux.fits")
    with pytest.raises(
        FormatError, match=r"'lightcurve' format has no write option 'engine'; it takes .*layout="
    ):
        lc.sed.write(tmp_path / "lc.fits", engine="x")


def test_a_budget_refusal_stops_the_read_at_once():
    """The read budget refuses the whole read: the first map over it is the one error, nothing collected."""
    with pytest.raises(fluxds.errors.BudgetError) as info:
        fluxds.read(WRITTEN / "fm_excess.fits", max_bytes=5000)
    assert type(info.value) is fluxds.errors.BudgetError and info.value.problems == []
    assert "'HDU NORM'" in str(info.value)
