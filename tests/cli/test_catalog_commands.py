"""The command line on catalogs and collections (issue 14, "Users see it"): ``fluxds info`` of a catalog
(format, sources, energy bands, history bins, model types with counts, coordinates) and of a collection
(members with their point counts); ``--source NAME`` on ``info`` (one source's table) and ``plot``, an
unknown name a usage error with close names suggested; ``--product`` as a read option of every
subcommand, refused for formats with one product. Expected numbers come from the FITS files themselves
(astropy, numpy), not from fluxds."""

from __future__ import annotations

import re
from collections import Counter

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.time import Time
from helpers import SHARED, WRITTEN

import fluxds
from fluxds.cli import main
from fluxds.collection import member_label

CATALOGS = SHARED / "catalogs"
FGL3 = CATALOGS / "gll_psc_v16.fit.gz"
FHL3 = CATALOGS / "gll_psch_v13.fit.gz"
GAMMACAT = CATALOGS / "gammacat.fits.gz"
CRAB_MWL = SHARED / "published" / "crab_mwl.fits.gz"
need_samples = pytest.mark.skipif(not FGL3.exists(), reason="../shared/data/catalogs not present")
CRAB = "3FGL J0534.5+2201"
FERMI_MJDREF = 51910 + 7.428703703703703e-4  # Fermi's mission elapsed time, TT
BANDS_3FGL = ("100_300", "300_1000", "1000_3000", "3000_10000", "10000_100000")


def _run(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _line(text: str, key: str) -> str:
    found = [line for line in text.splitlines() if line.startswith(f"{key}:")]
    assert len(found) == 1, (key, text)
    return found[0][len(key) + 1 :].strip()


def _table(text: str) -> list[list[str]]:
    """The rows of a ``--source`` table: the indented lines, split on blanks (header, units, rows)."""
    return [line.split() for line in text.splitlines() if line.startswith("  ")]


@pytest.fixture(scope="module")
def fgl3_columns():
    with fits.open(FGL3) as hdul:
        data = hdul["LAT_Point_Source_Catalog"].data
        names = np.char.strip(data["Source_Name"].astype(str))
        columns = {
            "names": names,
            "types": np.char.strip(data["SpectrumType"].astype(str)),
            "flux": {b: np.asarray(data[f"Flux{b}"], float) for b in BANDS_3FGL},
            "unc": {b: np.asarray(data[f"Unc_Flux{b}"], float) for b in BANDS_3FGL},
            "hist_start": np.asarray(hdul["Hist_Start"].data["Hist_Start"], float),
        }
    return columns


# ---- fluxds info: a catalog ------------------------------------------------------------------------------
@need_samples
def test_info_of_a_catalog(capsys, fgl3_columns):
    status, out, err = _run(capsys, "info", FGL3)
    assert status == 0, err
    catalog = "3FGL v16 (Fermi-LAT), format fermi-catalog, product sed (also: lightcurve)"
    assert _line(out, "catalog") == catalog
    n = fgl3_columns["names"].size
    assert _line(out, "sources") == str(n) == "3034"
    assert _line(out, "dims") == f"source={n}, energy=5"
    # the band edges are in the column names (MeV)
    edges = [BANDS_3FGL[0].split("_")[0], *(b.split("_")[1] for b in BANDS_3FGL)]
    assert _line(out, "energy bands") == f"5, edges {', '.join(edges)} MeV"
    # the history bins: Hist_Start holds the 49 edges of the 48 monthly bins, MET seconds (TT)
    start = Time(FERMI_MJDREF + fgl3_columns["hist_start"] / 86400, format="mjd", scale="tt")
    widths = np.diff(fgl3_columns["hist_start"]) / 86400
    history = _line(out, "history bins")
    assert history.startswith(f"{start.size - 1} (tt), {start[0].iso} - {start[-1].iso}, ")
    assert f"widths {widths.min():.4g} - {widths.max():.4g} d" in history
    # the model types with their counts: the SpectrumType column, fluxds's type named where it differs
    counts = Counter(fgl3_columns["types"].tolist())
    models = _line(out, "models")
    assert models.startswith("one per source: ")
    named = {"PLExpCutoff": "ExpCutoffPowerLaw3FGL", "PLSuperExpCutoff": "SuperExpCutoffPowerLaw3FGL"}
    for kind, count in counts.items():
        expected = f"{named[kind]} {count} (as {kind})" if kind in named else f"{kind} {count}"
        assert expected in models
    assert sum(int(c) for c in re.findall(r" (\d+)(?:,| \(|$)", models)) == n
    coordinates = _line(out, "coordinates")
    assert coordinates.startswith("along source: ra, dec, glon, glat, spectrum_type")
    assert "assoc1" in coordinates and "class1" in coordinates
    assert _line(out, "SED types") == "likelihood, dnde, e2dnde, flux, eflux (input: flux)"
    assert len(out.splitlines()) <= 10  # a few lines: not 3,034 source names
    assert CRAB not in out


@need_samples
def test_info_of_a_catalog_without_histories(capsys):
    status, out, err = _run(capsys, "info", FHL3)
    assert status == 0, err
    assert _line(out, "catalog") == "3FHL v13 (Fermi-LAT), format fermi-catalog, product sed"
    assert "history bins:" not in out
    with fits.open(FHL3) as hdul:
        data = hdul["LAT_Point_Source_Catalog"].data
        counts = Counter(np.char.strip(data["SpectrumType"].astype(str)).tolist())
        bounds = hdul["EnergyBounds"].data
        lo, hi = bounds["LowerEnergy"], bounds["UpperEnergy"]
        unit = hdul["EnergyBounds"].columns["LowerEnergy"].unit
    assert _line(out, "sources") == str(sum(counts.values()))
    models = _line(out, "models")
    for kind, count in counts.items():
        assert f"{kind} {count}" in models
    text = _line(out, "energy bands")
    shown = u.Unit(text.split()[-1])
    values = [float(v) for v in text.split("edges ")[1].rsplit(" ", 1)[0].split(", ")]
    edges = u.Quantity([*lo, hi[-1]], unit.strip()).to_value(shown)
    np.testing.assert_allclose(values, edges, rtol=1e-5)


@need_samples
def test_info_of_a_catalog_builds_no_model_per_source(capsys, monkeypatch):
    """The catalog summary counts model types from the JSON text: no model object per source (fast on
    3,034 sources)."""
    import fluxds.models

    calls = []
    real = fluxds.models.model_from_dict
    monkeypatch.setattr(fluxds.models, "model_from_dict", lambda d: calls.append(d) or real(d))
    status, out, err = _run(capsys, "info", FGL3)
    assert status == 0, err
    assert len(calls) == 0


@need_samples
def test_info_of_the_light_curve_product(capsys, fgl3_columns):
    status, out, err = _run(capsys, "info", FGL3, "--product", "lightcurve")
    assert status == 0, err
    assert "product lightcurve (also: sed)" in _line(out, "catalog")
    assert _line(out, "dims").startswith("source=3034, time=48, energy=1")
    assert _line(out, "history bins").startswith("48 (tt), ")
    assert "(--product lightcurve)" not in out  # the bins of the Dataset itself


# ---- fluxds info --source ---------------------------------------------------------------------------------
@need_samples
def test_info_source_table(capsys, fgl3_columns):
    status, out, err = _run(capsys, "info", FGL3, "--source", CRAB)
    assert status == 0, err
    assert _line(out, "source") == CRAB
    about = _line(out, "about")
    assert "assoc2 Crab" in about and "spectrum_type PLExpCutoff" in about and "ra 83.63" in about
    assert _line(out, "model").startswith("ExpCutoffPowerLaw3FGL(index=")
    header, units, *rows = _table(out)
    assert header == "e_min e_max e_ref flux flux_errn flux_errp flux_ul sqrt_ts is_ul".split()
    assert units[:3] == ["MeV"] * 3 and units[3] == "cm-2"  # "cm-2 s-1" split on the blank
    i = int(np.flatnonzero(fgl3_columns["names"] == CRAB)[0])
    assert len(rows) == 5
    for row, band in zip(rows, BANDS_3FGL, strict=True):
        lo, hi = band.split("_")
        assert row[:2] == [lo, hi]
        assert float(row[3]) == pytest.approx(fgl3_columns["flux"][band][i], rel=1e-5)
        assert float(row[4]) == pytest.approx(-fgl3_columns["unc"][band][i][0], rel=1e-5)
        assert float(row[5]) == pytest.approx(fgl3_columns["unc"][band][i][1], rel=1e-5)
        assert row[-1] == "-"


@need_samples
def test_info_source_table_shows_upper_limits(capsys, fgl3_columns):
    """A band whose lower error is null is an upper limit: flagged ``UL``, with flux + 2 x upper error."""
    lower = np.stack([fgl3_columns["unc"][b][:, 0] for b in BANDS_3FGL], axis=1)
    i = int(np.flatnonzero(np.isnan(lower).any(axis=1))[0])
    name = str(fgl3_columns["names"][i])
    status, out, err = _run(capsys, "info", FGL3, "--source", name)
    assert status == 0, err
    _, _, *rows = _table(out)
    for row, band, null in zip(rows, BANDS_3FGL, np.isnan(lower[i]), strict=True):
        assert row[-1] == ("UL" if null else "-")
        if null:
            expected = fgl3_columns["flux"][band][i] + 2 * fgl3_columns["unc"][band][i][1]
            assert float(row[6]) == pytest.approx(expected, rel=1e-5)
        else:
            assert row[6] == "nan"


@need_samples
def test_info_source_light_curve(capsys, fgl3_columns):
    status, out, err = _run(capsys, "info", FGL3, "--source", CRAB, "--product", "lightcurve")
    assert status == 0, err
    assert _line(out, "energy band") == "100 - 100000 MeV"
    header, units, *rows = _table(out)
    assert header[:3] == ["time_start", "time_stop", "flux"]
    assert len(rows) == 48
    start = Time(FERMI_MJDREF + fgl3_columns["hist_start"][0] / 86400, format="mjd", scale="tt")
    assert " ".join(rows[0][:2]) == start.iso[:19]


@need_samples
@pytest.mark.parametrize("sub", ["info", "plot"])
def test_unknown_source_suggests_close_names(sub, capsys, tmp_path):
    out = tmp_path / "x.png"
    argv = [sub, FGL3, "--source", "3FGL J0534.5+220"] + (["-o", out] if sub == "plot" else [])
    status, _, err = _run(capsys, *argv)
    assert status == 2
    assert err.startswith("fluxds: error: --source 3FGL J0534.5+220: no source of that name")
    assert f"did you mean: {CRAB}, " in err
    assert not out.exists()
    # a name the catalog gives as an association: the source associated with it
    status, _, err = _run(capsys, sub, FGL3, "--source", "crab", *(["-o", out] if sub == "plot" else []))
    assert status == 2 and f"{CRAB} (assoc2 'Crab')" in err


def test_source_of_a_file_without_sources_is_a_usage_error(capsys, tmp_path):
    status, _, err = _run(capsys, "info", WRITTEN / "fp_likelihood.fits", "--source", "Crab")
    assert status == 2
    assert "has no sources to choose from" in err and err.startswith("fluxds: error:")


def _two_sources(tmp_path, names) -> str:
    """A netCDF file of two sources on one grid (not a catalog)."""
    energy = [1.0, 3.0, 10.0] * u.TeV
    dnde = np.array([[1e-11, 2e-12, 1e-13], [2e-11, 3e-12, 4e-13]]) * u.Unit("cm-2 s-1 TeV-1")
    ds = fluxds.from_sed(
        "dnde",
        {"dnde": dnde, "dnde_err": dnde * 0.1},
        energy_ref=energy,
        dims=("source", "energy"),
        coords={"source": ("source", list(names))},
    )
    path = tmp_path / "two.nc"
    ds.sed.write(path)
    return path


def test_source_of_a_grid_and_escaped_names(capsys, tmp_path):
    path = _two_sources(tmp_path, ["Crab", "PKS\x1b[31m 2155"])
    status, out, err = _run(capsys, "info", path, "--source", "Crab")
    assert status == 0, err
    header, units, *rows = _table(out)
    assert header[:2] == ["e_ref", "dnde"] and [r[1] for r in rows] == ["1e-11", "2e-12", "1e-13"]
    status, _, err = _run(capsys, "info", path, "--source", "PKS 2155")
    assert status == 2 and "\x1b" not in err and "PKS\\x1b[31m 2155" in err  # suggested, escaped
    status, out, err = _run(capsys, "info", path)  # not a catalog: the summary of any Dataset
    assert status == 0 and "sources:       Crab, PKS\\x1b[31m 2155" in out


# ---- collections -----------------------------------------------------------------------------------------
@pytest.mark.skipif(not CRAB_MWL.exists(), reason="../shared/data/published not present")
def test_info_lists_the_members_of_a_collection(capsys):
    with fits.open(CRAB_MWL) as hdul:
        rows = len(hdul[1].data)
    # the reader labels a paper's repeated energies as a member of their own ("mezger (2)"): the members
    # are the Dataset's labels, every row of the file in one of them
    papers = fluxds.read(CRAB_MWL)["paper"].values.astype(str)
    assert papers.size == rows
    names, first, counts = np.unique(papers, return_index=True, return_counts=True)
    order = np.argsort(first)
    status, out, err = _run(capsys, "info", CRAB_MWL)
    assert status == 0, err
    members = _line(out, "members")
    assert members.startswith(f"{len(names)} (paper): {names[order[0]]} ({counts[order[0]]} points), ")
    for i in order[1:]:
        assert f"{names[i]} ({counts[i]})" in members
    assert "sources:" not in out
    # one member by name: its own points only
    status, out, err = _run(capsys, "info", CRAB_MWL, "--source", "hess")
    assert status == 0, err
    assert len(_table(out)) - 2 == counts[names == "hess"][0]


@need_samples
def test_gammacat_catalog_is_a_collection(capsys):
    if "gammacat-catalog" not in fluxds.io.format_names():
        pytest.skip("the gamma-cat reader is not in this tree")
    status, out, err = _run(capsys, "info", GAMMACAT)
    assert status == 0, err
    assert "format gammacat-catalog" in _line(out, "catalog")
    ds = fluxds.read(GAMMACAT)
    label = member_label(ds)
    assert label == "source"
    values, counts = np.unique(ds[label].values.astype(str), return_counts=True)
    assert _line(out, "sources").startswith(f"{values.size} with points")
    assert f"Crab nebula ({counts[values == 'Crab nebula'][0]}" in _line(out, "members")
    status, out, err = _run(capsys, "info", GAMMACAT, "--source", "Crab nebula")
    assert status == 0, err
    assert len(_table(out)) - 2 == counts[values == "Crab nebula"][0]


# ---- fluxds plot --source --------------------------------------------------------------------------------
@need_samples
def test_plot_one_source(capsys, tmp_path):
    out = tmp_path / "crab.png"
    status, text, err = _run(capsys, "plot", FGL3, "--source", CRAB, "-o", out)
    assert status == 0, err
    assert text.strip() == f"wrote {out} (sed plot)"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lc = tmp_path / "crab_lc.svg"
    status, text, err = _run(capsys, "plot", FGL3, "--source", CRAB, "--product", "lightcurve", "-o", lc)
    assert status == 0, err
    assert text.strip() == f"wrote {lc} (lightcurve plot)"
    assert CRAB in lc.read_text()  # the title names the source


@pytest.mark.skipif(not CRAB_MWL.exists(), reason="../shared/data/published not present")
def test_plot_one_member_of_a_collection(capsys, tmp_path):
    out = tmp_path / "hess.png"
    status, text, err = _run(capsys, "plot", CRAB_MWL, "--source", "hess", "-o", out)
    assert status == 0, err
    assert out.stat().st_size > 0
    status, _, err = _run(capsys, "plot", CRAB_MWL, "--source", "hesss", "-o", tmp_path / "y.png")
    assert status == 2 and "no paper of that name" in err and "did you mean: hess" in err


def test_plot_source_refuses_a_map_grid(capsys, tmp_path):
    path = _two_sources(tmp_path, ["Crab", "Vela"])
    argv = ["plot", path, "--source", "Crab", "--kind", "grid", "-o", tmp_path / "g.png"]
    status, _, err = _run(capsys, *argv)
    assert status == 2 and "not --kind grid" in err


# ---- --product -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sub", ["info", "convert", "plot", "batch"])
def test_product_on_a_format_with_one_product_is_a_usage_error(sub, capsys, tmp_path):
    path = WRITTEN / "fp_likelihood.fits"
    extra = {
        "convert": [tmp_path / "out.nc"],
        "plot": ["-o", tmp_path / "out.png"],
        "batch": ["--out", tmp_path / "out", "--no-progress"],
    }
    status, _, err = _run(capsys, sub, path, *extra.get(sub, []), "--product", "lightcurve")
    assert status == 2
    assert "unrecognized arguments" not in err
    assert "is read as 'gadf-sed', which holds one product" in err
    assert "fermi-catalog (sed, lightcurve)" in err


@need_samples
def test_product_names_are_checked(capsys):
    status, _, err = _run(capsys, "info", FGL3, "--product", "lc")
    assert status == 2
    assert err.strip().endswith("(fermi-catalog) holds sed, lightcurve")


@need_samples
def test_product_reaches_convert(capsys, tmp_path):
    out = tmp_path / "lc.nc"
    status, _, err = _run(capsys, "convert", FGL3, out, "--product", "lightcurve")
    assert status == 0, err
    with xr.open_dataset(out) as ds:
        assert ds.sizes["time"] == 48 and ds.sizes["source"] == 3034
