"""Fuzzed input (fast CI subset): mutated copies of the real files in tests/data, and generated hostile
inputs of every family of :mod:`fuzz.hostile` (declared-size bombs per format, zarr links and special
files, YAML anchors, HEALPix regions, MODEL paths), either read as a valid Dataset or raise a FluxdsError
naming the file; no other exception, no hang, no huge allocation, no read growing the memory by more
than the read budget (256 MiB) + margin (256 MiB), nothing shown from outside the input.

Each input is read in a worker process with a read budget, a capped address space and a time limit
(:mod:`fuzz.worker`); hypothesis picks the seed file and the mutation seed, and shrinks a failure to a
small reproducer. The big run (>= 1e5 inputs) is ``nice -n 19 python -m fuzz.run --inputs 100000
--workers 2`` (see fuzz/README.md).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from astropy.io import fits
from helpers import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import hostile
from fuzz.mutate import MUTATIONS, mutate
from fuzz.seeds import kind_of, seeds
from fuzz.worker import GOOD, Worker

pytestmark = pytest.mark.campaign  # the bounded slice of the fuzz campaign (python -m fuzz.run)

CORPUS = seeds(include_shared=False)
NAMES = sorted(CORPUS)


@pytest.fixture(scope="module")
def worker():
    with Worker(seconds=10.0) as w:
        yield w


# seeds fluxds refuses by design (a clear FluxdsError), still good starting points for mutants
REFUSED_BY_DESIGN = {
    # a likelihood binned time series without its energy band or model: read only with
    # gammapy_defaults=True (issue 13, item 9)
    "gammapy-written/lc_1bin_bts_likelihood.ecsv",
}


def test_corpus_reads_cleanly(worker):
    """The unmutated seeds are all readable (the mutants start from valid files), but for the few that
    fluxds refuses by design, which end in a FluxdsError naming the file."""
    assert len(NAMES) >= 30
    outcomes = {name: worker.read(name.replace("/", "_"), CORPUS[name])[0] for name in NAMES}
    assert {n: o for n, o in outcomes.items() if n in REFUSED_BY_DESIGN} == dict.fromkeys(
        REFUSED_BY_DESIGN, "error"
    )
    assert {o for n, o in outcomes.items() if n not in REFUSED_BY_DESIGN} == {"ok"}, outcomes


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


# generated hostile inputs: (family, variant) cases of the CI subset, each drawn with a fixed seed
HOSTILE_CASES = [
    ("netcdf_bomb", "junk_variable"),
    ("netcdf_bomb", "junk_dimension"),
    ("netcdf_bomb", "huge_energy"),
    ("netcdf_bomb", "classic_dim"),
    ("hdf5_bomb", "huge_table"),
    ("hdf5_bomb", "junk_dataset"),
    ("zarr_bomb", "huge_shape"),
    ("zarr_bomb", "billions_of_chunks"),
    ("zarr_bomb", "junk_array"),
    ("zarr_bomb", "chunk_claims_huge"),
    ("zarr_bomb", "chunk_really_huge"),
    ("fits_image_bomb", "naxis"),
    ("fits_image_bomb", "tile_short"),
    ("fits_image_bomb", "tile_shared_heap"),
    ("fits_image_bomb", "tile_shared_heap", "ci-0"),  # 64 MiB per HDU, under the budget; 960 MiB in all
    ("fits_table_bomb", "naxis2"),
    ("fits_table_bomb", "tform_tdim"),
    ("fits_table_bomb", "vla_shared_heap"),
    ("healpix_bomb", "sparse_allsky"),
    ("healpix_bomb", "sparse_region"),
    ("healpix_bomb", "implicit_allsky"),
    ("ecsv_bomb", "laughs_meta"),
    ("ecsv_bomb", "laughs_description"),
    ("ecsv_bomb", "huge_subtype"),
    ("zarr_links", "chunk_to_outside_copy"),
    ("zarr_links", "chunk_to_dev_zero"),
    ("zarr_links", "chunk_fifo"),
    ("zarr_links", "array_dir_to_outside_copy"),
    ("zarr_links", "root_meta_to_outside_copy"),
    ("model_path", "absolute_outside"),
    ("model_path", "relative_up"),
    ("model_path", "dev_zero"),
    ("model_path", "broken_outside"),
]


# (family, variant, seed): the input is drawn from random.Random(seed or f"ci-{family}-{variant}")
HOSTILE_CASES = [(*case, "")[:3] for case in HOSTILE_CASES]


def test_hostile_cases_cover_every_family():
    assert {family for family, _, _ in HOSTILE_CASES} == set(hostile.FAMILIES)
    for family, variant, _ in HOSTILE_CASES:
        assert variant in hostile.variants(family), (family, variant)


@pytest.mark.parametrize(
    ("family", "variant", "seed"), HOSTILE_CASES, ids=[f"{f}-{v}{s and '-' + s}" for f, v, s in HOSTILE_CASES]
)
def test_hostile_input(worker, family, variant, seed):
    """A generated hostile input ends as a FluxdsError naming it (or, for a harmless one, a valid
    Dataset), within the time limit, under the read budget, showing nothing from outside it; a zarr
    store with a link or a FIFO is refused."""
    made = hostile.generate(family, random.Random(seed or f"ci-{family}-{variant}"), variant)
    outcome, detail = worker.read(made.name, made.data, made.must_refuse, made.rss_limit_mib)
    assert outcome in GOOD, f"{family}/{variant} {made.notes}: {outcome}\n{detail}"
    if made.must_refuse:
        assert outcome == "error" and made.name in detail, detail


def test_hostile_inputs_are_reproducible():
    """An input is a function of its family, variant and random seed only (replay by input number)."""
    for family in hostile.FAMILIES:
        variant = hostile.variants(family)[0]
        a = hostile.generate(family, random.Random(f"r-{family}"), variant)
        b = hostile.generate(family, random.Random(f"r-{family}"), variant)
        assert (a.name, a.variant, a.notes) == (b.name, b.variant, b.notes), family
        assert a.data == b.data, family


def _allocate_or_real(path):
    """Stands in for fuzz.worker.classify_read: ``big*`` inputs touch 400 MiB, ``secret*`` show the
    outside text, others are read for real."""
    if path.name.startswith("big"):
        block = np.ones(400 * 2**20 // 8)
        return "ok", str(block[-1])
    if path.name.startswith("secret"):
        return "error", f"FormatError: {path.name}: {hostile.SECRET}"
    return _REAL_CLASSIFY(path)


def test_worker_flags_reads_above_the_budget(monkeypatch):
    """A read whose RSS grew by more than the budget + margin is ``over_budget`` (whatever it returned);
    a message showing a file from outside is a ``leak``; a Dataset read from an input that must be
    refused is ``accepted``."""
    from fuzz import worker as worker_module

    monkeypatch.setattr(worker_module, "classify_read", _allocate_or_real)
    data = CORPUS[NAMES[0]]
    name = NAMES[0].split("/")[-1]
    with Worker(seconds=20.0, budget_mib=64, margin_mib=64) as w:
        outcome, detail = w.read("big.fits", data)
        assert outcome == "over_budget" and "MiB" in detail, detail
        assert w.read(name, data)[0] == "ok"  # the peak is reset for each input
        assert w.read("secret.fits", data)[0] == "leak"
        assert w.read(name, data, must_refuse=True)[0] == "accepted"


def test_run_records_families_and_budget_and_replays(tmp_path, capsys, monkeypatch):
    """``python -m fuzz.run`` mixes hostile inputs into the stream, records per-family counts and the
    budget in its summary, and ``--replay i`` rebuilds input i."""
    from fuzz import run

    out = tmp_path / "results.json"
    args = ["--inputs", "6", "--seed", "3", "--hostile", "0.5", "--families", "healpix_bomb,zarr_links"]
    run.main([*args, "--out", str(out)])
    summary = __import__("json").loads(out.read_text())
    assert summary["inputs"] == 6 and summary["read_budget_bytes"] == 256 * 2**20
    assert summary["hostile_fraction"] == 0.5 and summary["families"] == ["healpix_bomb", "zarr_links"]
    assert sum(sum(c.values()) for c in summary["per_family"].values()) == 6
    assert set(summary["per_family"]) - {"mutation"} <= {"healpix_bomb", "zarr_links"}
    i = next(
        k
        for k in range(6)
        if run.make_input({"x.fits": b""}, 3, k, 0.5, ("healpix_bomb", "zarr_links"))["family"] != "mutation"
    )
    made = run.make_input(seeds(include_shared=True), 3, i, 0.5, ("healpix_bomb", "zarr_links"))
    assert made == run.make_input(seeds(include_shared=True), 3, i, 0.5, ("healpix_bomb", "zarr_links"))
    capsys.readouterr()
    # the replay reads in this process under the worker's budget, set in the environment: restored after
    monkeypatch.setenv("FLUXDS_MAX_READ_BYTES", "256MiB")  # records the old state, restored after the test
    run.main([*args, "--replay", str(i), "--crashes", str(tmp_path / "crashes")])
    printed = capsys.readouterr().out
    assert f"'family': '{made['family']}'" in printed and (tmp_path / "crashes" / made["name"]).exists()
    assert printed.splitlines()[-1].split()[0] in GOOD, printed
