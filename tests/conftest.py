"""Shared fixtures: the numbers gammapy computed from the real test files, and quiet astropy warnings.

Shared paths and helper functions are in ``helpers.py`` (``from helpers import WRITTEN``)."""

from __future__ import annotations

import json
import warnings

import pytest
from helpers import WRITTEN


@pytest.fixture(scope="session")
def expected() -> dict:
    """``expected.json``: what gammapy 2.1 computes from each file in ``gammapy-written``."""
    return json.loads((WRITTEN / "expected.json").read_text())["files"]


@pytest.fixture(autouse=True)
def _quiet_astropy():
    from astropy.utils.exceptions import AstropyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        yield
