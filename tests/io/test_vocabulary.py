"""The file vocabularies come from the data model (issue 15 item 2): HDU names of map quantities, column
aliases (energy columns included), SED stems and structural keywords, declared once in
:mod:`fluxds.io.vocabulary`, and each reader takes them from there."""

from __future__ import annotations

import ast
import inspect

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from helpers import GADF, WRITTEN

import fluxds
from fluxds import schema
from fluxds.io import bands, vocabulary
from fluxds.io.gadf_table import guess_sed_type
from fluxds.io.keywords import STRUCTURAL_META as KEYWORDS_STRUCTURAL_META
from fluxds.io.lightcurve.keys import STRUCTURAL_META as LIGHTCURVE_STRUCTURAL_META

# what the hand-typed list of the former layouts.py held (34 names): each must still be recognised
FORMER_QUANTITY_HDU_NAMES = {
    *(
        f"{t}{s}"
        for t in ("NORM", "DNDE", "E2DNDE", "FLUX", "EFLUX")
        for s in ("", "_ERR", "_ERRP", "_ERRN", "_UL")
    ),
    *("NORM_SENSITIVITY", "TS", "SQRT_TS", "NPRED", "NPRED_EXCESS", "COUNTS"),
    *("STAT", "STAT_NULL", "STAT_SCAN"),
}

# the energy-column names each reader accepted before the one table (bands.py, healpix_map/read.py,
# tscube/read.py, schema.COLUMN_ALIASES for tables): all of them mean the same column now
FORMER_ENERGY_ALIASES = {
    "ENERGY": "e_ref",
    "E_REF": "e_ref",
    "E_CTR": "e_ref",
    "E_MIN": "e_min",
    "E_MAX": "e_max",
}


def test_every_schema_quantity_is_a_quantity_hdu_name():
    for name in schema.QUANTITY_NAMES:
        assert vocabulary.is_quantity_hdu(name.upper()), name
        assert vocabulary.is_quantity_hdu(name), name  # any case


def test_quantity_hdu_names_derive_from_the_schema():
    assert FORMER_QUANTITY_HDU_NAMES <= vocabulary.QUANTITY_HDU_NAMES
    derived = {n.upper() for n in schema.QUANTITY_NAMES}
    assert vocabulary.QUANTITY_HDU_NAMES - derived == {"DNDE_SCAN_VALUES"}  # gammapy's one extra map
    assert not vocabulary.is_quantity_hdu("JUNK") and not vocabulary.is_quantity_hdu("BANDS")


def test_gammapy_writes_no_map_fluxds_does_not_name():
    """gammapy 2.1's FluxMaps.write writes ``all_quantities`` of its SED type: each one is a quantity HDU
    name (a new gammapy map would otherwise make a flux map undetectable or unread)."""
    core = pytest.importorskip("gammapy.estimators.map.core")
    for sed_type in ("likelihood", "dnde", "e2dnde", "flux", "eflux"):
        for quantity in core.FluxMaps.all_quantities(sed_type):
            assert vocabulary.is_quantity_hdu(quantity), (sed_type, quantity)


def test_alias_table_maps_every_alias_a_reader_accepted_before():
    for raw, column in FORMER_ENERGY_ALIASES.items():
        assert vocabulary.canonical_column(raw) == column
        assert vocabulary.energy_columns([raw]) == {column: raw}
    for old, new in schema.COLUMN_ALIASES.items():  # the data model's spellings (REF_DFDE ...)
        assert vocabulary.canonical_column(old.upper()) == new
    assert {n.upper() for n in vocabulary.ENERGY_COLUMN_ALIASES} <= vocabulary.BANDS_AXIS_COLUMNS


def test_energy_columns_prefers_the_first_alias():
    found = vocabulary.energy_columns(["E_CTR", "E_REF", "energy", "E_MIN", "E_MAX", "REF_DNDE"])
    assert found == {"e_ref": "energy", "e_min": "E_MIN", "e_max": "E_MAX"}


def test_sed_stems_come_from_the_schema():
    assert set(vocabulary.SED_STEMS) == set(schema.SED_TYPES) - {"norm"}
    for i, stem in enumerate(vocabulary.SED_STEMS):  # a stem that ends in another comes before it
        assert not any(stem.endswith(other) and stem != other for other in vocabulary.SED_STEMS[:i])
    assert guess_sed_type(["e2dnde", "dnde"]) == "e2dnde"
    assert guess_sed_type(["eflux", "flux"]) == "eflux"
    assert guess_sed_type(["dnde", "eflux"]) == "dnde"  # as the former hand list ordered them


def test_one_structural_meta():
    assert KEYWORDS_STRUCTURAL_META is vocabulary.STRUCTURAL_META
    assert vocabulary.STRUCTURAL_META < LIGHTCURVE_STRUCTURAL_META  # plus the light curve's time keywords
    assert {"MJDREFI", "TIMESYS"} <= LIGHTCURVE_STRUCTURAL_META - vocabulary.STRUCTURAL_META


def _literal_sets(module) -> list[set[str]]:
    """Every set, tuple or dict-key literal of upper-case strings in a module's source."""
    found = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        elements = node.elts if isinstance(node, (ast.Set, ast.Tuple, ast.List)) else None
        if isinstance(node, ast.Dict):
            elements = node.keys
        if elements and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elements):
            found.append({e.value for e in elements})
    return found


@pytest.mark.parametrize(
    "module",
    [
        "fluxds.io.bands",
        "fluxds.io.healpix_map.read",
        "fluxds.io.tscube.read",
        "fluxds.io.wcs_map.read",
        "fluxds.io.flux_profile.columns",
        "fluxds.io.gadf_table",
    ],
)
def test_no_reader_declares_its_own_energy_aliases_or_structural_keywords(module):
    import importlib

    for literal in _literal_sets(importlib.import_module(module)):
        assert not {"E_CTR", "E_REF", "ENERGY"} <= {s.upper() for s in literal}, (module, literal)
        assert not {"SED_TYPE", "UL_CONF", "EXTNAME"} <= literal, (module, literal)
        assert not {"e2dnde", "dnde", "eflux", "flux"} <= literal, (module, literal)


def _bands_hdu(name: str, columns: dict[str, tuple[list, str | None]]) -> fits.BinTableHDU:
    cols = [fits.Column(n, "D", unit=unit, array=np.asarray(v, float)) for n, (v, unit) in columns.items()]
    return fits.BinTableHDU.from_columns(cols, name=name)


def test_one_reader_of_bands_tables():
    """WCS maps, HEALPix maps and TS cubes read BANDS/EBOUNDS energies with one helper: the same
    energies from the same table, whatever the alias; EBOUNDS without a unit in keV."""
    table = _bands_hdu(
        "BANDS",
        {"CHANNEL": ([0, 1], None), "E_CTR": ([1.5, 3.0], "TeV"), "E_MIN": ([1, 2], "TeV"),
         "E_MAX": ([2, 4], "TeV"), "REF_DFDE": ([1e-12, 1e-13], "cm-2 s-1 TeV-1")},
    )  # fmt: skip
    energies = bands.energy_bounds(table, "x.fits[BANDS]")
    assert set(energies) == {"e_ref", "e_min", "e_max"}
    assert energies["e_ref"].to_value(u.TeV).tolist() == [1.5, 3.0]
    refs = bands.per_energy_columns(table, "x.fits[BANDS]")
    assert list(refs) == ["ref_dnde"] and refs["ref_dnde"][1] == "cm-2 s-1 TeV-1"
    as_table = Table.read(table)
    assert bands.energy_bounds(as_table, "x")["e_min"].unit == u.TeV
    ebounds = _bands_hdu("EBOUNDS", {"E_MIN": ([1, 2], None), "E_MAX": ([2, 4], None)})
    assert bands.energy_bounds(ebounds, "x.fits[EBOUNDS]")["e_max"].unit == u.keV
    with pytest.raises(fluxds.FormatError, match=r"column 'E_MIN' must hold energies with a unit"):
        bands.energy_bounds(_bands_hdu("BANDS", {"E_MIN": ([1], None), "E_MAX": ([2], None)}), "x")


def test_healpix_and_wcs_maps_name_their_reference_model_through_one_resolver():
    from fluxds.io.healpix_map import read as healpix_read
    from fluxds.io.model_file import resolve_model
    from fluxds.io.wcs_map import read as wcs_read

    for module in (healpix_read, wcs_read):
        source = inspect.getsource(module)
        assert "resolve_model(" in source and "model_file_beside" not in source
    assert not hasattr(healpix_read, "reference_model_file")
    model, origin = resolve_model("fm_hpx_model.yaml", None, WRITTEN / "fm_hpx.fits", origin="path")
    assert model is not None and origin == f"MODEL keyword: {WRITTEN / 'fm_hpx_model.yaml'}"


def test_one_confidence_level_implementation():
    """fluxds.profiles' sided= helpers and fluxds.confidence give the very same numbers (one
    implementation), for numbers and arrays."""
    from fluxds.confidence import n_sigma_from_ul_conf, ul_conf_from_n_sigma, ul_conf_of
    from fluxds.profiles import conf_to_n_sigma, n_sigma_to_conf

    conf = np.array([0.5, 0.68, 0.9, 0.95, 0.99, 1 - 1e-9])
    for side in ("one", "two"):
        assert np.array_equal(conf_to_n_sigma(conf, sided=side), n_sigma_from_ul_conf(conf, f"{side}-sided"))
        n = np.array([0.5, 1.0, 2.0, 5.0])
        assert np.array_equal(n_sigma_to_conf(n, sided=side), ul_conf_from_n_sigma(n, f"{side}-sided"))
    assert isinstance(n_sigma_from_ul_conf(0.95), float)
    assert n_sigma_from_ul_conf(0.95, "one-sided") == 1.6448536269514722
    assert ul_conf_of({"ul_conf": 0.9}) == 0.9 and ul_conf_of({}) is None
    assert ul_conf_of({"n_sigma_ul": 2.0, "ul_sidedness": "one-sided"}) == ul_conf_from_n_sigma(
        2.0, "one-sided"
    )
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    assert ds.sed.ul_conf == ul_conf_of(ds.attrs)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (WRITTEN / "fm_ts.fits", "flux-map"),  # DNDE_SCAN_VALUES, NITER, SUCCESS ...
        (WRITTEN / "fm_hpx.fits", "healpix-map"),
        (WRITTEN / "fp_likelihood.fits", "gadf-sed"),
        (WRITTEN / "fp_dnde.ecsv", "ecsv"),
        (GADF / "wcs_ccube.fits", "flux-map"),
        (GADF / "binlike.fits", "gadf-sed"),
    ],
)
def test_detection_of_real_files_unchanged(path, expected):
    assert fluxds.io.detect_format(path) == expected


def test_an_image_named_after_any_schema_quantity_is_a_flux_map(tmp_path):
    """A quantity the former hand list missed (``REF_DNDE``, ``NORM_ERRSYS``) names a flux-map image."""
    for name in ("NORM_ERRSYS", "DNDE_SENSITIVITY", "NPRED_BACKGROUND"):
        path = tmp_path / f"{name}.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 3)), name=name)]).writeto(path)
        assert name not in FORMER_QUANTITY_HDU_NAMES
        assert fluxds.io.detect_format(path) == "flux-map"


def test_table_reader_accepts_every_energy_alias(tmp_path):
    """``E_CTR`` and ``ENERGY`` (the BANDS-table name) mean ``e_ref`` in an SED table too."""
    for alias in ("E_CTR", "energy"):
        table = Table({alias: [1.0, 2.0] * u.TeV, "dnde": [1e-11, 1e-12] * u.Unit("cm-2 s-1 TeV-1")})
        table.meta["SED_TYPE"] = "dnde"
        path = tmp_path / f"{alias}.fits"
        table.write(path)
        ds = fluxds.read(path)
        assert ds.energy.values.tolist() == [1.0, 2.0]
