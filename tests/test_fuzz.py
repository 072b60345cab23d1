"""Fuzzed input (fast CI subset): mutated copies of the real files in tests/data either read as a valid
Dataset or raise a FluxdsError naming the file; no other exception, no hang, no huge allocation.

Each input is read in a worker process with a capped address space and a time limit
(:mod:`fuzz.worker`); hypothesis picks the seed file and the mutation seed, and shrinks a failure to a
small reproducer. The big run (>= 1e5 inputs) is ``nice -n 19 python -m fuzz.run --inputs 100000
--workers 2`` (see fuzz/README.md).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from astropy.io import fits
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.mutate import MUTATIONS, mutate
from fuzz.seeds import kind_of, seeds
from fuzz.worker import GOOD, Worker

CORPUS = seeds(include_shared=False)
NAMES = sorted(CORPUS)


@pytest.fixture(scope="module")
def worker():
    with Worker(seconds=10.0, memory_mib=1536) as w:
        yield w


def test_corpus_reads_cleanly(worker):
    """The unmutated seeds are all readable: the mutants start from valid files."""
    assert len(NAMES) >= 30
    outcomes = {name: worker.read(name.replace("/", "_"), CORPUS[name])[0] for name in NAMES}
    assert set(outcomes.values()) == {"ok"}, outcomes


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(NAMES), seed=st.integers(0, 2**32 - 1))
def test_mutated_files(worker, name, seed):
    data, applied = mutate(CORPUS[name], kind_of(name), random.Random(seed))
    outcome, detail = worker.read(f"fuzzed_{name.split('/')[-1]}", data)
    assert outcome in GOOD, f"{name} after {applied} (seed {seed}): {outcome}\n{detail}"


def _with_card(data: bytes, key: bytes, value: str, nth: int = 0) -> bytes:
    """Replace the value of the ``nth`` card ``key`` (written independently of fuzz.mutate)."""
    offsets = [o for o in range(0, len(data), 80) if data[o : o + 8].rstrip() == key]
    o = offsets[nth]
    return data[: o + 10] + f"{value:>20}".ljust(70).encode() + data[o + 80 :]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"NAXIS2", "1000000000000"),  # 10**12 rows
        (b"NAXIS1", "9223372036854775807"),
        (b"NAXIS", "2147483647"),  # would make astropy loop over NAXISn for hours
        (b"TFIELDS", "2000000000"),
        (b"PCOUNT", "1000000000000"),
        (b"BITPIX", "12"),
    ],
)
def test_huge_or_invalid_declarations_are_refused(worker, key, value):
    data = (DATA / "gammapy-written" / "fp_likelihood.fits").read_bytes()
    nth = 1 if key in (b"NAXIS2", b"NAXIS1", b"TFIELDS", b"PCOUNT") else 0  # the table HDU
    outcome, detail = worker.read("declared.fits", _with_card(data, key, value, nth))
    assert outcome == "error", detail
    assert "declared.fits" in detail and key.decode() in detail or "bytes of data" in detail


def test_enormous_tdim_is_refused_or_ignored(worker):
    data = (DATA / "gammapy-written" / "fp_likelihood.fits").read_bytes()
    header = fits.getheader(DATA / "gammapy-written" / "fp_likelihood.fits", 1)
    tdim = next(k for k in header if k.startswith("TDIM"))
    outcome, detail = worker.read("tdim.fits", _with_card(data, tdim.encode(), "'(1000000,1000000)'"))
    assert outcome in GOOD, detail


def test_every_mutation_changes_something():
    """The fuzzer's operators are not no-ops on the real files (else the run above tests nothing)."""
    rng = random.Random(0)
    fits_seed = CORPUS["gammapy-written/fp_likelihood.fits"]
    text_seed = CORPUS["gammapy-written/fp_likelihood.ecsv"]
    for name, op in MUTATIONS.items():
        seed = text_seed if name == "edit_text" else fits_seed
        changed = sum(op(seed, rng) != seed for _ in range(20))
        assert changed >= 15, name
    assert np.mean([len(mutate(fits_seed, "fits", rng)[1]) for _ in range(50)]) >= 1


def _slow_or_real(path):
    """Stands in for fuzz.worker.classify_read in forked workers: ``slow*`` inputs hang in a held lock."""
    import threading
    import time

    from fuzz import worker as worker_module

    lock = worker_module.__dict__.setdefault("_test_lock", threading.Lock())
    if path.name.startswith("slow"):
        lock.acquire()  # never released: the interrupted reader leaves the process poisoned
        time.sleep(60)
    with lock:  # every read needs the lock, as a library's global lock would be
        return _REAL_CLASSIFY(path)


_REAL_CLASSIFY = __import__("fuzz.worker", fromlist=["classify_read"]).classify_read


def test_worker_is_replaced_after_a_timeout(monkeypatch):
    """A timed-out input is retried once in a fresh worker, counted as a timeout, and does not poison
    the inputs after it (the worker that ran it is replaced); large inputs never block the parent."""
    from fuzz import worker as worker_module

    monkeypatch.setattr(worker_module, "classify_read", _slow_or_real)
    data = CORPUS[NAMES[0]]
    with Worker(seconds=1.0, memory_mib=1536) as w:
        outcome, detail = w.read("slow.fits", data)
        assert outcome == "timeout" and "(twice)" in detail
        assert w.restarts == 2
        name = NAMES[0].split("/")[-1]
        assert w.read(name, data)[0] == "ok"
        assert w.read(name, data + b"\0" * 10_000_000)[0] in GOOD  # 10 MB: more than a pipe holds
        assert w.restarts == 2
