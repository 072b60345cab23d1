"""The ``.sed`` accessor's methods show their parameters (no bare ``**kwargs``), with the names, defaults
and kinds of the functions they call, documented; the accessor holds no state (issue 15, item 4)."""

from __future__ import annotations

import importlib
import inspect
import pydoc
import re

import astropy.units as u
import numpy as np
import pytest

import fluxds
from fluxds.accessor import SedAccessor

P = inspect.Parameter

# accessor method -> (the function it calls, "module:name" as the accessor imports it; renamed parameters
# {accessor name: function name})
TARGETS: dict[str, tuple[str, dict[str, str]]] = {
    "get": ("fluxds.convert:get_quantity", {}),
    "quantity": ("fluxds.convert:get_quantity", {}),  # through get(), the unit to fluxds.units.to_quantity
    "to_sed_type": ("fluxds.convert:to_sed_type", {"sed_type": "sed"}),
    "sel_energy": ("fluxds.energy:sel_energy", {}),
    "to_energy_unit": ("fluxds.energy:to_energy_unit", {}),
    "compare": ("fluxds.energy:compare", {"other": "b"}),
    "get_flux_points": ("fluxds.maps:get_flux_points", {}),
    "plot": ("fluxds.plotting:plot_sed", {}),
    "plot_ts_profiles": ("fluxds.plotting:plot_ts_profiles", {}),
    "plot_lightcurve": ("fluxds.plotting:plot_lightcurve", {}),
    "plot_grid": ("fluxds.plotting:plot_grid", {}),
    "castro_stat": ("fluxds.profiles.castro:castro_stat", {}),
    "fit": ("fluxds.profiles.castro_fit:fit_castro", {}),
    "variability": ("fluxds.profiles.variability:variability", {}),
    "recompute_ul": ("fluxds.profiles.limits:recompute_ul", {}),
    "recompute_errors": ("fluxds.profiles.limits:recompute_errors", {}),
    "check": ("fluxds.profiles.checks:check", {}),
    "combine": ("fluxds.profiles.combine:combine", {}),
    "resample": ("fluxds.profiles.resample:resample", {}),
    "write": ("fluxds.io:write", {"options": "kwargs"}),
    "member": ("fluxds.collection:member", {}),
    "select": ("fluxds.collection:select", {}),
}
NO_PARAMETERS = {"validate", "times", "ts_profile", "ts_scan"}
# a trailing **kwargs is allowed only where it goes past fluxds: to matplotlib, or to one format's writer
PASSTHROUGH = {
    "plot": "matplotlib",
    "plot_ts_profiles": "matplotlib",
    "plot_lightcurve": "matplotlib",
    "plot_grid": "matplotlib",
    "write": "writer",
}


def _resolve(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _public_methods() -> list[str]:
    return sorted(
        name
        for name, value in vars(SedAccessor).items()
        if not name.startswith("_") and inspect.isfunction(value)
    )


def _own(function) -> list[P]:
    """The parameters after the first (``self`` of a method, ``ds`` of a function)."""
    return list(inspect.signature(function).parameters.values())[1:]


def _combine_options() -> list[P]:
    """What ``resample`` takes in its ``**kwargs`` (given to ``merge_members``, documented as
    :func:`fluxds.profiles.combine.combine`'s), keyword-only."""
    from fluxds.profiles.combine import merge_members

    return [p for p in _own(merge_members) if p.kind is P.KEYWORD_ONLY and p.name != "sum_references"]


def _target_parameters(method: str) -> list[P]:
    spec, _ = TARGETS[method]
    params = _own(_resolve(spec))
    if method == "resample":
        params = [p for p in params if p.kind is not P.VAR_KEYWORD] + _combine_options()
    return params


def _same_default(a, b) -> bool:
    return type(a) is type(b) and (a is b or a == b)


def test_every_public_method_is_checked():
    assert set(_public_methods()) == set(TARGETS) | NO_PARAMETERS
    for name in NO_PARAMETERS:
        assert _own(getattr(SedAccessor, name)) == [], name


@pytest.mark.parametrize("method", sorted(TARGETS))
def test_signature_matches_the_function_it_calls(method):
    """Names, order, defaults and annotations as the target's; keyword-only wherever the target is. An
    option the target takes by position as well is keyword-only on the accessor when it used to reach the
    target through ``**kwargs`` (by keyword only), never the reverse."""
    _, renamed = TARGETS[method]
    ours = _own(getattr(SedAccessor, method))
    theirs = _target_parameters(method)
    assert [renamed.get(p.name, p.name) for p in ours] == [p.name for p in theirs], method
    for mine, target in zip(ours, theirs, strict=True):
        where = f"{method}({mine.name})"
        assert _same_default(mine.default, target.default), (where, mine.default, target.default)
        assert mine.kind is target.kind or (
            mine.kind is P.KEYWORD_ONLY and target.kind is P.POSITIONAL_OR_KEYWORD
        ), (where, mine.kind, target.kind)
        if target.annotation is not P.empty:
            assert mine.annotation == target.annotation, (where, mine.annotation, target.annotation)


def test_resample_options_are_those_of_combine():
    from fluxds.profiles.combine import combine

    options = {p.name: p.default for p in _combine_options()}
    assert options == {p.name: p.default for p in _own(combine)[1:]}  # after ``dim``


@pytest.mark.parametrize("method", _public_methods())
def test_no_bare_kwargs(method):
    params = _own(getattr(SedAccessor, method))
    var_keyword = [p for p in params if p.kind is P.VAR_KEYWORD]
    if method not in PASSTHROUGH:
        assert not var_keyword, f"ds.sed.{method} takes **{var_keyword[0].name}: list the options"
    assert not any(p.kind is P.VAR_POSITIONAL for p in params), method


def _documented_parameters(function) -> dict[str, str]:
    """The numpydoc ``Parameters`` section of a docstring: {name: description} (``a, b : ...`` gives both)."""
    doc = inspect.getdoc(function) or ""
    match = re.search(r"^Parameters\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc, re.S | re.M)
    if match is None:
        return {}
    entries: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names = [n.strip() for n in line.split(" : ")[0].split(",")]
            for name in names:
                entries[name] = ""
        else:
            for name in names:
                entries[name] += line.strip() + " "
    return entries


@pytest.mark.parametrize("method", [m for m in _public_methods() if m not in NO_PARAMETERS])
def test_every_parameter_is_documented(method):
    function = getattr(SedAccessor, method)
    documented = _documented_parameters(function)
    expected = {
        f"**{p.name}" if p.kind is P.VAR_KEYWORD else p.name
        for p in _own(function)
        if p.kind is not P.VAR_POSITIONAL
    }
    assert set(documented) == expected, method
    assert all(text.strip() for text in documented.values()), method  # each says something
    for p in _own(function):
        if p.kind is P.VAR_KEYWORD and PASSTHROUGH[method] == "matplotlib":
            assert "matplotlib" in documented[f"**{p.name}"], method


def test_help_shows_the_options():
    """What ``help(ds.sed)`` prints: the signatures with their options, ``**kwargs`` only for matplotlib."""
    text = pydoc.render_doc(SedAccessor, renderer=pydoc.plaintext)
    for method in _public_methods():
        line = next(line for line in text.splitlines() if re.match(rf"^\W*{method}\(self", line.strip()))
        for p in _own(getattr(SedAccessor, method)):
            assert p.name in line, (method, p.name, line)
        if method not in PASSTHROUGH:
            assert "**" not in line, line
    assert "filter_success: 'bool' = True" in text


# --- the forwarding itself: every option reaches the target under its name --------------------------
FORWARDED = sorted(set(TARGETS) - {"quantity"})  # quantity gives its unit to to_quantity, tested below


@pytest.mark.parametrize("method", FORWARDED)
def test_every_option_is_passed_on(method, monkeypatch):
    spec, renamed = TARGETS[method]
    module_name, _, function_name = spec.partition(":")
    module = importlib.import_module(module_name)
    real = getattr(module, function_name)
    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return "result"

    monkeypatch.setattr(module, function_name, fake)
    ds = _sed()
    values = {}
    for p in _own(getattr(SedAccessor, method)):
        if p.kind is P.VAR_KEYWORD:
            values["some_option"] = object()
        else:
            values[p.name] = object()
    result = getattr(ds.sed, method)(**values)
    assert len(calls) == 1
    if method != "write":  # write returns None
        assert result == "result"
    bound = inspect.signature(real).bind(*calls[0][0], **calls[0][1])
    received = dict(bound.arguments)
    first = next(iter(inspect.signature(real).parameters))
    assert received.pop(first) is ds
    for p in inspect.signature(real).parameters.values():
        if p.kind is P.VAR_KEYWORD:
            received.update(received.pop(p.name, {}))
    expected = {renamed.get(name, name): value for name, value in values.items()}
    assert received.keys() == expected.keys(), method
    for name, value in expected.items():
        assert received[name] is value, (method, name)


# --- write: the documented writer options are the writers' -------------------------------------------
def _writers() -> dict[str, str]:
    """{format name: "module:function" of its writer} for every format fluxds writes."""
    try:
        from fluxds.io.registry import formats
    except ImportError:  # before the format registry: a table in fluxds.io
        from fluxds.io import FORMATS

        return {name: writer for name, (_, writer) in FORMATS.items() if writer}
    return {
        f.name: f.writer if f.writer.startswith("fluxds.") else f"fluxds.io.{f.writer}"
        for f in formats()
        if f.writer
    }


def _writer_options() -> dict[str, set[str]]:
    """{option: formats whose writer takes it}, from the writers' signatures."""
    common = {"ds", "path", "sed_type", "overwrite"}
    options: dict[str, set[str]] = {}
    for fmt, writer in _writers().items():
        for p in inspect.signature(_resolve(writer)).parameters.values():
            if p.name not in common:
                options.setdefault(p.name, set()).add(fmt)
    return options


def test_write_documents_each_writer_option():
    text = _documented_parameters(SedAccessor.write)["**options"]
    listed = {
        name: {f.strip().strip("`") for f in formats.split(",")}
        for name, formats in re.findall(r"- ``(\w+)`` \(([^)]*)\)", text)
    }
    assert listed == _writer_options()


def test_write_lists_every_format_it_writes():
    text = _documented_parameters(SedAccessor.write)["format"]
    assert set(re.findall(r'``"([\w-]+)"``', text)) == set(_writers())


# --- no state on the accessor -----------------------------------------------------------------------
DNDE = u.Unit("cm-2 s-1 TeV-1")
PL = fluxds.models.PowerLaw(index=2.5, amplitude=3e-11 * DNDE, reference=1 * u.TeV)
NORM = np.array([1.0, 0.9, 0.8, -0.2])
SUCCESS = [True, False, True, False]


def _sed():
    return fluxds.from_likelihood(
        NORM,
        norm_err=[0.1, 0.2, 0.3, 0.5],
        ts=[100.0, 25.0, 3.0, 1.0],
        success=SUCCESS,
        energy_min=[1.0, 2.0, 4.0, 8.0] * u.TeV,
        energy_max=[2.0, 4.0, 8.0, 16.0] * u.TeV,
        reference_model=PL,
    )


def test_setting_filter_success_raises_with_the_way_out():
    ds = _sed()
    with pytest.raises(AttributeError, match=r"filter_success=False") as info:
        ds.sed.filter_success = False
    assert "ds.sed.get(" in str(info.value) and "lost silently" in str(info.value)
    with pytest.raises(AttributeError, match=r"filter_success=False"):
        ds.sed.filter_success  # noqa: B018 - reading the old attribute explains too
    assert not hasattr(ds.sed, "filter_success")
    with pytest.raises(AttributeError, match="holds no state"):
        ds.sed.anything = 1
    assert not hasattr(ds.sed, "__dict__")
    # nothing was changed: the properties still filter
    assert np.isnan(ds.sed.norm.values[1])


def test_isel_then_get_unfiltered():
    """The option is a parameter, so it survives what re-creates the accessor (``.isel`` ...)."""
    ds = _sed()
    part = ds.isel(energy=slice(1, 4))
    filtered = part.sed.get("norm")
    stored = part.sed.get("norm", filter_success=False)
    np.testing.assert_array_equal(stored.values, NORM[1:])
    assert np.isnan(filtered.values[[0, 2]]).all() and filtered.values[1] == NORM[2]
    assert not np.array_equal(filtered.values, stored.values, equal_nan=True)
    # derived quantities follow: dnde, sqrt_ts, is_ul
    dnde = part.sed.get("dnde", filter_success=False)
    assert np.isfinite(dnde.values).all() and np.isnan(part.sed.dnde.values[0])
    sqrt_ts = part.sed.get("sqrt_ts", filter_success=False).values
    np.testing.assert_allclose(sqrt_ts, np.sign(NORM[1:]) * np.sqrt([25.0, 3.0, 1.0]))
    assert np.isnan(part.sed.sqrt_ts.values[[0, 2]]).all()
    # the properties keep filtering by default, as get() does
    np.testing.assert_array_equal(part.sed.norm.values, filtered.values, strict=True)
    np.testing.assert_array_equal(part.sed.dnde.values, part.sed.get("dnde").values)


def test_quantity_takes_the_filter_too():
    ds = _sed()
    assert np.isnan(ds.sed.quantity("dnde")[1])
    stored = ds.sed.quantity("dnde", "cm-2 s-1 GeV-1", filter_success=False)
    assert stored.unit == u.Unit("cm-2 s-1 GeV-1") and np.isfinite(stored).all()
    np.testing.assert_allclose(stored.to_value(DNDE), ds.sed.get("dnde", filter_success=False).values)
