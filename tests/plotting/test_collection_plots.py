"""The SED plot of a collection: one series per member (papers, sources), each with its own points only,
markers and no line, a legend entry per member titled by the member label. Checked on the matplotlib
artists against the numbers put in."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from helpers import WRITTEN

import fluxds
from fluxds import collection
from fluxds.construct import from_sed

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DNDE = u.Unit("cm-2 s-1 TeV-1")


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def _papers():
    e = np.array([1.0, 2.0, 4.0, 1.5, 3.0, 6.0, 2.5])
    dnde = np.array([1e-11, 2e-12, 3e-13, 5e-12, 8e-13, 2e-13, 1e-12])
    ul = np.where(np.arange(7) == 5, 4e-13, np.nan)
    return (
        from_sed(
            "dnde",
            {
                "dnde": dnde * DNDE,
                "dnde_err": 0.1 * dnde * DNDE,
                "dnde_ul": ul * DNDE,
                "is_ul": np.isfinite(ul),
            },
            energy_ref=e * u.TeV,
            coords={"paper": ("energy", ["hess", "hess", "hess", "magic", "magic", "magic", "veritas"])},
        ),
        e,
        dnde,
        ul,
    )


def test_one_series_per_member_with_its_own_points(ax):
    ds, e, dnde, ul = _papers()
    artists = ds.sed.plot("dnde", ax=ax)
    assert [s.label for s in artists.series] == ["hess", "magic", "veritas"]
    for series, keep in zip(artists.series, ([0, 1, 2], [3, 4], [6]), strict=True):
        line = series.points.lines[0]  # the data line of the errorbar container
        np.testing.assert_array_equal(line.get_xdata(), e[keep])
        np.testing.assert_allclose(line.get_ydata(), dnde[keep], rtol=1e-12)
        assert line.get_linestyle() == "None" and line.get_marker() == "o"  # markers, nothing joined
    magic = artists.series[1]
    (arrow,) = magic.upper_limits.lines[2][0].get_segments()  # one vertical bar down from the limit
    assert arrow[:, 0].tolist() == [6.0, 6.0] and arrow[:, 1].max() == pytest.approx(4e-13, rel=1e-12)
    assert [s.upper_limits.lines[2][0].get_segments() for s in artists.series if s is not magic] == [[], []]
    # the same colour for a member's points and its limits; another for each member
    colours = [s.points.lines[0].get_color() for s in artists.series]
    assert len(set(colours)) == 3
    limit_colour = magic.upper_limits.lines[2][0].get_color()[0][:3]
    assert tuple(limit_colour) == pytest.approx(matplotlib.colors.to_rgb(colours[1]))
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["hess", "magic", "veritas"]
    assert legend.get_title().get_text() == "paper"


def test_member_series_with_a_model_and_e2dnde(ax):
    ds, e, dnde, _ = _papers()
    model = fluxds.models.PowerLaw(index=2.5, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    artists = ds.sed.plot("e2dnde", ax=ax, model=model, energy_unit="GeV")
    assert len(artists.series) == 3 and len(artists.model) == 1
    hess = artists.series[0].points.lines[0]
    # e2dnde in erg cm-2 s-1 at E in GeV: by hand from the inputs (1 TeV = 1.602176634 erg)
    np.testing.assert_allclose(hess.get_xdata(), e[:3] * 1e3, rtol=1e-12)
    np.testing.assert_allclose(hess.get_ydata(), e[:3] ** 2 * dnde[:3] * 1.602176634, rtol=1e-9)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["PowerLaw", "hess", "magic", "veritas"]


def test_a_grid_keeps_its_series(ax):
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    artists = ds.sed.plot(ax=ax)
    assert len(artists.series) == 1 and artists.series[0].label is None and ax.get_legend() is None


def test_collection_from_a_file_written_and_saved(tmp_path):
    ds, *_ = _papers()
    col = collection.stack_members(
        {"A": ds.isel(energy=[0, 1, 2]), "B": ds.isel(energy=[3, 4])}, label="source"
    )
    fluxds.write(col, tmp_path / "col.fits")
    fig, axes = plt.subplots()
    artists = fluxds.read(tmp_path / "col.fits").sed.plot(ax=axes)
    assert [s.label for s in artists.series] == ["A", "B"]
    fig.savefig(tmp_path / "col.png")
    plt.close(fig)
    assert (tmp_path / "col.png").stat().st_size > 0


def test_model_curve_spans_members_without_edges():
    """A member given by e_ref alone (NaN edges) still widens the model curve's energy range."""
    import astropy.units as u
    import matplotlib.pyplot as plt
    import numpy as np
    from helpers import WRITTEN

    import fluxds
    from fluxds import collection
    from fluxds.models import PowerLaw

    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    far = ds.assign_coords(
        energy=ds.energy * 100, energy_min=ds.energy_min * np.nan, energy_max=ds.energy_max * np.nan
    )
    col = collection.stack_members([ds.assign_coords(source="A"), far.assign_coords(source="B")])
    fig, ax = plt.subplots()
    col.sed.plot(
        ax=ax, model=PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    )
    curve = max(ax.get_lines(), key=lambda line: len(line.get_xdata()))
    assert np.isclose(curve.get_xdata().max(), float(col.energy.max()))
    plt.close(fig)
