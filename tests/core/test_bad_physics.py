"""Clear errors for bad physics: every case of issue 7 item 4 raises a FluxdsError naming the file (when
read from one), the variable, the value found and what was expected — in memory (from_sed /
from_likelihood) and through the readers (files written here with astropy, not with fluxds). Issue 12
item 10: impossible numbers (negative errors or references, e_ref outside its bin, a NaN GTI) are refused
by ``fluxds.read``, suspicious ones (an upper limit below the value) warn, or refuse with ``strict=True``."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

import fluxds
from fluxds.models import default_reference_model
from fluxds.validate import PhysicsWarning, physics_problems

DNDE = u.Unit("cm-2 s-1 TeV-1")
FLUX = u.Unit("cm-2 s-1")


def _table(**columns) -> Table:
    t = Table()
    t["e_min"] = [1.0, 2.0, 4.0] * u.TeV
    t["e_max"] = [2.0, 4.0, 8.0] * u.TeV
    t["dnde"] = [1e-11, 5e-12, 1e-12] * DNDE
    for name, value in columns.items():
        t[name] = value
    t.meta["SED_TYPE"] = "dnde"
    return t


def _read(tmp_path, table: Table, suffix: str):
    path = tmp_path / f"bad{suffix}"
    table.write(path, format="fits" if suffix == ".fits" else "ascii.ecsv")
    return lambda: fluxds.read(path)


FILES = [".fits", ".ecsv"]
NAME = r"bad\.(fits|ecsv)"


# --- energies --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", FILES)
def test_e_min_not_below_e_max(tmp_path, suffix):
    t = _table()
    t["e_min"][2] = 8.0
    with pytest.raises(fluxds.SchemaError, match=rf"{NAME}.*e_min must be < e_max.*bin 2 has e_min=8.0 TeV"):
        _read(tmp_path, t, suffix)()


def test_e_min_not_below_e_max_in_memory():
    with pytest.raises(fluxds.SchemaError, match=r"bin 1 has e_min=3.0 TeV and e_max=3.0 TeV"):
        fluxds.from_sed("dnde", {"dnde": [1, 2] * DNDE}, energy_min=[1, 3] * u.TeV, energy_max=[3, 3] * u.TeV)


@pytest.mark.parametrize("suffix", FILES)
@pytest.mark.parametrize(("value", "shown"), [(-2.0, "-2.0 TeV"), (np.nan, "nan TeV"), (np.inf, "inf TeV")])
def test_negative_or_non_finite_energy(tmp_path, suffix, value, shown):
    t = _table()
    t["e_max"][1] = value
    if not np.isfinite(value):
        t["e_min"][1] = 2.0
    with pytest.raises(
        fluxds.SchemaError, match=rf"{NAME}.*'e_max' must be finite and > 0; found {shown} in bin 1"
    ):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
def test_non_monotonic_energy_bins(tmp_path, suffix):
    t = _table()
    t["e_min"] = [1.0, 4.0, 2.0] * u.TeV
    t["e_max"] = [2.0, 8.0, 4.0] * u.TeV
    with pytest.raises(
        fluxds.SchemaError,
        match=rf"(?s){NAME}.*'energy_min' must increase strictly along 'energy'; found 4.0 TeV at index 1 "
        r"then 2.0 TeV at index 2",
    ):
        _read(tmp_path, t, suffix)()


def test_non_monotonic_reference_energies_in_memory():
    with pytest.raises(
        fluxds.SchemaError, match=r"(?s)'energy' must increase strictly.*found 3.0 TeV at index 1 then 3.0"
    ):
        fluxds.from_sed("dnde", {"dnde": [3, 2, 1] * DNDE}, energy_ref=[1, 3, 3] * u.TeV)


# --- units of the wrong physical dimension --------------------------------------------------------------
@pytest.mark.parametrize("suffix", FILES)
def test_dnde_column_in_energy_flux_unit(tmp_path, suffix):
    t = _table()
    t["dnde"] = [1e-11, 5e-12, 1e-12] * u.Unit("erg cm-2 s-1")
    with pytest.raises(
        fluxds.UnitError,
        match=rf"{NAME}.*'dnde' has unit 'erg cm-2 s-1'.*expected a unit like 'cm-2 s-1 TeV-1'",
    ):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
def test_flux_column_in_differential_unit(tmp_path, suffix):
    t = _table()
    t.remove_column("dnde")
    t["flux"] = [1e-11, 5e-12, 1e-12] * DNDE
    t.meta["SED_TYPE"] = "flux"
    with pytest.raises(fluxds.UnitError, match=rf"{NAME}.*'flux' has unit 'cm-2 s-1 TeV-1'.*like 'cm-2 s-1'"):
        _read(tmp_path, t, suffix)()


def test_wrong_units_in_memory():
    with pytest.raises(
        fluxds.UnitError, match=r"'dnde' has unit 'erg / \(s cm2\)'|'dnde' has unit 'erg cm-2 s-1'"
    ):
        fluxds.from_sed("dnde", {"dnde": [1, 2] * u.Unit("erg cm-2 s-1")}, energy_ref=[1, 2] * u.TeV)
    with pytest.raises(fluxds.UnitError, match=r"'flux' has unit .*expected a unit like 'cm-2 s-1'"):
        fluxds.from_sed("flux", {"flux": [1, 2] * DNDE}, energy_min=[1, 2] * u.TeV, energy_max=[2, 4] * u.TeV)
    with pytest.raises(fluxds.UnitError, match=r"'e_ref' has unit s, which is not an energy"):
        fluxds.from_sed("dnde", {"dnde": [1, 2] * DNDE}, energy_ref=[1, 2] * u.s)


# --- time bins -----------------------------------------------------------------------------------------
def _light_curve(time_min, time_max) -> Table:
    t = Table()
    t["time_min"] = time_min
    t["time_max"] = time_max
    t["e_min"] = np.full((len(time_min), 1), 1.0) * u.TeV
    t["e_max"] = np.full((len(time_min), 1), 10.0) * u.TeV
    t["flux"] = np.full((len(time_min), 1), 1e-11) * FLUX
    t.meta.update(SED_TYPE="flux", TIMESYS="tt", TIMEUNIT="d", MJDREFI=51910, MJDREFF=7.428703703703703e-4)
    return t


@pytest.mark.parametrize("suffix", FILES)
def test_non_monotonic_time_bins(tmp_path, suffix):
    t = _light_curve([55000.0, 55002.0, 55001.0], [55001.0, 55003.0, 55002.0])
    with pytest.raises(
        fluxds.SchemaError,
        match=rf"{NAME}.*time bins must be in strictly increasing order of 'time_min'; bin 2 has "
        r"time_min=.*55001.0.* after .*55002.0.* in bin 1",
    ):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
def test_time_bin_of_negative_length(tmp_path, suffix):
    t = _light_curve([55000.0, 55001.0], [55001.0, 55000.5])
    with pytest.raises(fluxds.SchemaError, match=rf"(?s){NAME}.*time bin 1 has time_min=.* >= time_max=.*"):
        _read(tmp_path, t, suffix)()


# --- sources, shapes, UL_CONF --------------------------------------------------------------------------
def test_duplicate_source_names_in_memory():
    with pytest.raises(
        fluxds.SchemaError, match=r"(?s)'source' has duplicate source names \['Crab'\]; expected unique"
    ):
        fluxds.from_sed(
            "dnde",
            {"dnde": [[1, 2], [3, 4], [5, 6]] * DNDE},
            energy_ref=[1, 2] * u.TeV,
            dims=("source", "energy"),
            coords={"source": ["Crab", "Vela", "Crab"]},
        )


def test_duplicate_source_names_from_file(tmp_path):
    path = tmp_path / "bad.fits"
    from astropy.io import fits

    hdus = [fits.PrimaryHDU()]
    for _ in range(2):
        hdu = fits.table_to_hdu(_table())
        hdu.name = "CRAB"
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path)
    with pytest.raises(fluxds.FluxdsError, match=r"bad\.fits.*duplicate source names.*CRAB"):
        fluxds.read(path)


def test_shape_mismatch_in_memory():
    with pytest.raises(
        fluxds.SchemaError, match=r"'norm_err' has shape \(3,\); expected dims \('energy',\) with 2"
    ):
        fluxds.from_likelihood(
            [1.0, 2.0],
            energy_min=[1, 2] * u.TeV,
            energy_max=[2, 4] * u.TeV,
            reference_model=default_reference_model(),
            norm_err=[0.1, 0.2, 0.3],
        )
    with pytest.raises(fluxds.SchemaError, match=r"e_min has 2 bins and e_max 3"):
        fluxds.from_sed(
            "dnde", {"dnde": [1, 2] * DNDE}, energy_min=[1, 2] * u.TeV, energy_max=[2, 4, 8] * u.TeV
        )


@pytest.mark.parametrize("suffix", FILES)
def test_shape_mismatch_in_file(tmp_path, suffix):
    t = _table()
    t["dnde_ul"] = np.ones((3, 2)) * DNDE  # a vector where a number per bin is expected
    with pytest.raises(fluxds.SchemaError, match=rf"{NAME}.*'dnde_ul' has shape \(3, 2\); expected dims"):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
@pytest.mark.parametrize("ul_conf", [0.0, 1.0, 95.0, -0.5])
def test_ul_conf_outside_unit_interval(tmp_path, suffix, ul_conf):
    t = _table()
    t.meta["UL_CONF"] = ul_conf
    with pytest.raises(fluxds.SchemaError, match=rf"{NAME}.*UL_CONF must lie in \(0, 1\); found {ul_conf}"):
        _read(tmp_path, t, suffix)()


def test_ul_conf_in_memory():
    with pytest.raises(fluxds.SchemaError, match=r"UL_CONF must lie in \(0, 1\); found 1.5"):
        fluxds.from_sed("dnde", {"dnde": [1, 2] * DNDE}, energy_ref=[1, 2] * u.TeV, ul_conf=1.5)


# --- impossible and suspicious numbers (issue 12 item 10): physics_problems -------------
REF_DNDE = [1e-11, 2e-12, 4e-13] * DNDE


def _likelihood(**columns) -> Table:
    t = Table()
    t["e_ref"] = [1.4, 2.8, 5.6] * u.TeV
    t["e_min"] = [1.0, 2.0, 4.0] * u.TeV
    t["e_max"] = [2.0, 4.0, 8.0] * u.TeV
    t["norm"] = [1.0, 0.5, -0.2]  # a negative norm is legal (a likelihood fit of a weak source)
    t["norm_err"] = [0.1, 0.1, 0.3]
    t["norm_ul"] = [1.2, 0.7, -0.1]  # so is a negative upper limit, above its norm
    t["ref_dnde"] = REF_DNDE
    t["ref_flux"] = [1e-11, 4e-12, 1.6e-12] * FLUX
    for name, value in columns.items():
        t[name] = value
    t.meta["SED_TYPE"] = "likelihood"
    return t


@pytest.mark.parametrize("suffix", FILES)
def test_legal_likelihood_file_reads_quietly(tmp_path, suffix):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = _read(tmp_path, _likelihood(), suffix)()
        fluxds.read(tmp_path / f"bad{suffix}", strict=True)
    assert float(ds.norm[2]) == -0.2


@pytest.mark.parametrize("suffix", FILES)
@pytest.mark.parametrize("name", ["norm_err", "norm_errp", "norm_errn"])
def test_negative_error_is_refused(tmp_path, suffix, name):
    t = _likelihood(**{name: [0.1, -0.05, 0.3]})
    with pytest.raises(
        fluxds.SchemaError,
        match=rf"{NAME}: impossible values\n  - variable '{name}' has 1 negative value\(s\), first -0.05 at "
        r"energy bin 1; an uncertainty is a magnitude, never negative",
    ):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
def test_negative_error_in_dnde_file_names_the_sed_type(tmp_path, suffix):
    t = _table(dnde_err=[1e-12, 5e-13, -1e-13] * DNDE)
    with pytest.raises(
        fluxds.SchemaError,
        match=rf"{NAME}: impossible values\n  - variable 'norm_err' \(dnde_err / ref_dnde: the SED type read "
        r"was dnde\) has 1 negative value\(s\), first .* at energy bin 2",
    ):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
@pytest.mark.parametrize("name", ["ref_flux", "ref_dnde"])
def test_negative_reference_is_refused(tmp_path, suffix, name):
    t = _likelihood()
    t[name][1] = -t[name][1]
    with pytest.raises(
        fluxds.SchemaError,
        match=rf"{NAME}: impossible values\n  - variable '{name}' has 1 negative value\(s\), first -.* at "
        r"energy bin 1; the reference model is a photon spectrum, never negative",
    ):
        _read(tmp_path, t, suffix)()


@pytest.mark.parametrize("suffix", FILES)
@pytest.mark.parametrize("e_ref", [4.5, 1.9])
def test_e_ref_outside_its_bin_is_refused(tmp_path, suffix, e_ref):
    t = _likelihood()
    t["e_ref"][1] = e_ref
    with pytest.raises(
        fluxds.SchemaError,
        match=rf"{NAME}: impossible values\n  - coordinate 'energy' \(the file's e_ref\) lies outside its "
        rf"bin in 1 bin\(s\), first energy bin 1: e_ref={e_ref} TeV not in \[e_min, e_max\] = "
        r"\[2.0, 4.0\] TeV",
    ):
        _read(tmp_path, t, suffix)()


def test_e_ref_on_a_bin_edge_or_in_other_units_reads(tmp_path):
    t = _likelihood()
    t["e_ref"] = [1.0, 4.0, 8.0] * u.TeV  # on the edges: inside
    _read(tmp_path, t, ".fits")()
    t["e_ref"] = [1e9, 4e9, 8e9] * u.keV  # the same energies, converted for the comparison
    _read(tmp_path, t, ".ecsv")()


@pytest.mark.parametrize("suffix", FILES)
def test_upper_limit_below_value_warns_or_refuses_with_strict(tmp_path, suffix):
    t = _likelihood(norm_ul=[1.2, 0.4, 0.6])
    t.meta["UL_CONF"] = 0.95
    path_read = _read(tmp_path, t, suffix)
    with pytest.warns(
        PhysicsWarning,
        match=rf"{NAME}: variable 'norm_ul' lies below 'norm' in 1 bin\(s\), first at energy bin 1: "
        r"norm_ul=0.4 < norm=0.5; an upper limit at 0.95 confidence",
    ):
        ds = path_read()
    assert float(ds.norm_ul[1]) == 0.4  # read as it is
    with pytest.raises(fluxds.SchemaError, match=rf"{NAME}: impossible or suspicious values\n.*'norm_ul'"):
        fluxds.read(tmp_path / f"bad{suffix}", strict=True)


def test_upper_limit_below_value_at_low_confidence_is_legal(tmp_path):
    import warnings

    t = _likelihood(norm_ul=[1.2, 0.4, 0.6])
    t.meta["UL_CONF"] = 0.3  # a 30 % limit lies below the best fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _read(tmp_path, t, ".fits")()


def test_nan_gti_of_an_sed_file_is_refused(tmp_path):
    from astropy.io import fits

    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=[np.nan]),
            fits.Column("STOP", "D", unit="s", array=[1e8]),
        ],
        name="GTI",
    )
    gti.header.update(MJDREFI=51544, MJDREFF=0.0, TIMESYS="TT")
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(_likelihood()), gti]).writeto(tmp_path / "bad.fits")
    with pytest.raises(
        fluxds.FormatError, match=r"bad\.fits\[GTI\]: GTI column START must be finite; found nan"
    ):
        fluxds.read(tmp_path / "bad.fits")


def test_impossible_values_in_netcdf_are_refused(tmp_path):
    """The checks run on the Dataset every reader returns, whatever the format."""
    ds = _read(tmp_path, _likelihood(), ".fits")()
    bad = ds.assign(norm_err=ds.norm_err * [1, -1, 1])
    gti = {"units": "s", "mjdrefi": 51544.0, "mjdreff": 0.0, "time_scale": "tt"}
    bad = bad.assign(gti_start=("gti", [np.nan], gti), gti_stop=("gti", [1e8], gti))
    bad.sed.write(tmp_path / "bad.nc")
    with pytest.raises(
        fluxds.SchemaError, match=r"(?s)bad\.nc: impossible values\n.*'norm_err'.*'gti_start'"
    ):
        fluxds.read(tmp_path / "bad.nc")


def test_physics_problems_in_memory_and_real_files():
    """Building a Dataset in memory does not refuse (physics_problems lists); every real file of tests/data
    reads with strict=True and no warning: no rule fires on them (docs: /work/notes/docs-F.md counts them
    over all 162 real files fluxds reads)."""
    import warnings

    from helpers import DATA

    ds = fluxds.from_likelihood(
        [1.0, 2.0],
        energy_min=[1, 2] * u.TeV,
        energy_max=[2, 4] * u.TeV,
        reference_model=default_reference_model(),
        norm_err=[0.1, -0.2],
        norm_ul=[0.5, 2.5],
    )
    impossible, suspicious = physics_problems(ds)
    assert len(impossible) == 1 and "'norm_err'" in impossible[0]
    assert len(suspicious) == 1 and "norm_ul=0.5 < norm=1.0" in suspicious[0]
    real = [  # the TS cubes are slow to read: they are in the count of docs-F.md
        p for p in sorted(DATA.rglob("*")) if p.suffix in (".fits", ".ecsv", ".gz") and "tscube" not in p.name
    ]
    read = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicsWarning)
        for path in real:
            try:
                fluxds.read(path, strict=True)
            except fluxds.FluxdsError as exc:
                assert "impossible" not in str(exc), exc
                continue
            read += 1
    assert read >= 25
