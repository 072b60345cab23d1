"""Bad input raises a FluxdsError that names the file, the column and what was expected."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from helpers import GADF

import fluxds
from fluxds.io.fits_tables import join_sources

DNDE = u.Unit("cm-2 s-1 TeV-1")


def _write(tmp_path, table: Table, name: str = "bad.fits"):
    path = tmp_path / name
    table.write(path, format="fits" if name.endswith(".fits") else "ascii.ecsv")
    return path


def _flux_table():
    t = Table()
    t["e_min"] = [1.0, 2.0, 4.0] * u.TeV
    t["e_max"] = [2.0, 4.0, 8.0] * u.TeV
    t["flux"] = [1e-11, 5e-12, 1e-12] * u.Unit("cm-2 s-1")
    t.meta["SED_TYPE"] = "flux"
    return t


def test_missing_required_column(tmp_path):
    t = _flux_table()
    t.remove_column("flux")
    t["dnde"] = [1, 2, 3] * DNDE
    t.meta["SED_TYPE"] = "flux"
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.FormatError, match=r"bad\.fits.*SED_TYPE 'flux' needs a column 'flux'"):
        fluxds.read(path)


def test_missing_energy_columns(tmp_path):
    t = _flux_table()
    t.remove_columns(["e_min", "e_max"])
    path = _write(tmp_path, t, "bad.ecsv")
    with pytest.raises(fluxds.FormatError, match=r"bad\.ecsv.*energy columns missing.*e_ref"):
        fluxds.read(path)


def test_e_min_not_below_e_max(tmp_path):
    t = _flux_table()
    t["e_max"][1] = 2.0
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.SchemaError, match=r"bad\.fits.*e_min must be < e_max.*bin 1"):
        fluxds.read(path)


@pytest.mark.parametrize("value", [np.nan, np.inf, -1.0, 0.0])
def test_non_finite_or_non_positive_energies(tmp_path, value):
    t = _flux_table()
    t["e_min"][0] = value
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.SchemaError, match=r"bad\.fits.*'e_min' must be finite and > 0"):
        fluxds.read(path)


def test_dnde_column_in_wrong_unit(tmp_path):
    t = Table()
    t["e_ref"] = [1.0, 2.0] * u.TeV
    t["dnde"] = [1e-11, 2e-12] * u.Unit("erg cm-2 s-1")
    t.meta["SED_TYPE"] = "dnde"
    path = _write(tmp_path, t)
    with pytest.raises(
        fluxds.UnitError,
        match=r"bad\.fits.*'dnde' has unit 'erg cm-2 s-1'.*"
        r"expected a unit like 'cm-2 s-1 TeV-1'",
    ):
        fluxds.read(path)


def test_flux_column_with_differential_unit(tmp_path):
    t = _flux_table()
    t["flux"].unit = "cm-2 s-1 TeV-1"
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.UnitError, match="'flux'.*not a particle flux"):
        fluxds.read(path)


def test_energy_column_not_an_energy(tmp_path):
    t = _flux_table()
    t["e_min"].unit = "s"
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.UnitError, match=r"'e_min' has unit s, which is not an energy"):
        fluxds.read(path)


def test_unknown_sed_type(tmp_path):
    t = _flux_table()
    t.meta["SED_TYPE"] = "fluence"
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.FormatError, match=r"SED_TYPE is 'fluence'; expected one of"):
        fluxds.read(path)


def test_unreadable_unit(tmp_path):
    path = tmp_path / "bad.ecsv"
    path.write_text(
        "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: e_ref, unit: TeV, datatype: float64}\n"
        "# - {name: dnde, unit: banana, datatype: float64}\n# meta: {SED_TYPE: dnde}\n"
        "# schema: astropy-2.0\ne_ref dnde\n1.0 1e-12\n"
    )
    with pytest.raises(fluxds.FluxdsError, match=r"bad\.ecsv"):
        fluxds.read(path)


def test_ul_conf_outside_unit_interval(tmp_path):
    t = _flux_table()
    t.meta["UL_CONF"] = 95.0
    path = _write(tmp_path, t)
    with pytest.raises(fluxds.SchemaError, match=r"UL_CONF must lie in \(0, 1\); found 95"):
        fluxds.read(path)


def test_not_a_sed_file(tmp_path):
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((3, 3))).writeto(path)
    with pytest.raises(fluxds.FormatError, match=r"image\.fits: no GADF SED table found"):
        fluxds.read(path)


def test_garbage_file_and_unknown_format(tmp_path):
    path = tmp_path / "noise.dat"
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(fluxds.UnknownFormatError, match=r"noise\.dat: cannot tell the format"):
        fluxds.read(path)
    with pytest.raises(fluxds.FormatError, match="no such file"):
        fluxds.read(tmp_path / "missing.fits")
    truncated = tmp_path / "cut.fits"
    truncated.write_bytes((GADF / "flux_points.fits").read_bytes()[:3000])
    with pytest.raises(fluxds.FluxdsError, match=r"cut\.fits"):
        fluxds.read(truncated)


def test_light_curve_table_is_named(tmp_path):
    t = _flux_table()
    t["time_min"] = [1.0, 2.0, 3.0]
    path = _write(tmp_path, t)
    # read as a light curve (time_min marks one), which needs both time_min and time_max
    with pytest.raises(
        fluxds.FormatError, match=r"bad\.fits\[.*\]: a light-curve table needs both 'time_min' and 'time_max'"
    ):
        fluxds.read(path)


def test_shape_mismatch_in_constructor():
    with pytest.raises(fluxds.SchemaError, match="'norm_err' has shape"):
        fluxds.from_likelihood(
            [1.0, 2.0],
            energy_min=[1, 2] * u.TeV,
            energy_max=[2, 4] * u.TeV,
            reference_model=fluxds.models.default_reference_model(),
            norm_err=[0.1, 0.2, 0.3],
        )


def test_dimensionful_value_without_unit():
    with pytest.raises(fluxds.UnitError, match="'dnde' is given without a unit"):
        fluxds.from_sed("dnde", {"dnde": [1e-12, 2e-13]}, energy_ref=[1, 2] * u.TeV)


def test_duplicate_source_names():
    ds = fluxds.from_sed("dnde", {"dnde": [1e-12, 2e-13] * DNDE}, energy_ref=[1, 2] * u.TeV)
    with pytest.raises(fluxds.FormatError, match="duplicate source names"):
        join_sources([("A", ds), ("A", ds)], "test")


def test_validate_reports_every_problem_at_once():
    ds = fluxds.from_sed("dnde", {"dnde": [1e-12, 2e-13] * DNDE}, energy_ref=[1, 2] * u.TeV)
    bad = ds.drop_vars("ref_dnde").assign_attrs(ul_conf=1.5, sed_type_init="fluence")
    bad["ts"] = ("energy", [1.0, 2.0], {"units": "TeV"})
    with pytest.raises(fluxds.SchemaError) as info:
        bad.sed.validate()
    assert len(info.value.problems) == 4
    text = str(info.value)
    for part in ("'ref_dnde' is missing", "'ul_conf' is 1.5", "'fluence'", "'ts' has units 'TeV'"):
        assert part in text
    assert ds.sed.validate() is ds


def test_gti_reference_keyword_without_a_value(tmp_path):
    """Found by the fuzz run: a GTI HDU whose MJDREFF card has no value gave a bare TypeError."""
    sed = fluxds.read(GADF.parent / "gammapy-written" / "fp_likelihood.fits")
    assert "gti_start" in sed  # written with its GTI HDU
    path = tmp_path / "gti.fits"
    sed.sed.write(path)
    with fits.open(path, mode="update") as hdul:
        hdul["GTI"].header["MJDREFF"] = None  # a card without a value
    with pytest.raises(
        fluxds.FormatError, match=r"gti.fits\[GTI\]: GTI keyword MJDREFF is None; expected a number"
    ):
        fluxds.read(path)
