"""Coverage-guided fuzzing of ``fluxds.read`` with atheris (libFuzzer), next to the mutation harness.

atheris is not a dependency of fluxds: ``pip install atheris`` (wheels for CPython on Linux/macOS). The
fluxds package is instrumented for coverage; the inputs start from the seed corpus of :mod:`fuzz.seeds`
(the real files of ``tests/data`` and ``../shared/data``). The first byte of an input chooses the file
suffix the reader sees (FITS, FITS.gz, ECSV, netCDF, HDF5); the rest are the file's bytes. An input fails
when ``fluxds.read`` raises anything but a :class:`fluxds.FluxdsError` naming the file, or when the
Dataset it returns does not pass :func:`fluxds.validate`; libFuzzer's ``-timeout`` and ``-rss_limit_mb``
catch hangs and huge allocations. From the repository root::

    python -m fuzz.atheris_driver -atheris_runs=20000 -timeout=20 -rss_limit_mb=4096 fuzz/atheris_corpus
    python -m fuzz.atheris_driver fuzz/crashes/crash-<sha1>     # replay one failing input

The first call writes the seed corpus into ``fuzz/atheris_corpus/`` (git-ignored) when it is empty;
libFuzzer adds the inputs that reach new code there. Failing inputs go to ``crash-*``/``timeout-*``
files in the working directory (``-artifact_prefix=fuzz/crashes/`` to put them elsewhere).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import tempfile
import warnings
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "atheris_corpus"
SUFFIXES = (".fits", ".fits.gz", ".ecsv", ".nc", ".h5")

with atheris.instrument_imports(include=["fluxds"]):
    import fluxds

    # fluxds imports its parts lazily: import every module now, so that all of them are instrumented
    for module in pkgutil.walk_packages(fluxds.__path__, "fluxds."):
        if not module.name.startswith(("fluxds.plotting", "fluxds.cli")):
            importlib.import_module(module.name)

from fuzz.seeds import seeds, sidecars  # noqa: E402

WORKDIR = Path(tempfile.mkdtemp(prefix="fluxds-atheris-"))
for _name, _text in sidecars().items():  # model YAML files the map seeds name in MODEL
    (WORKDIR / _name).write_bytes(_text)


class UnnamedError(Exception):
    """A FluxdsError whose message does not name the file it is about."""


def suffix_of(name: str) -> int:
    """Index in :data:`SUFFIXES` of the suffix of a seed file name."""
    for index in (1, 0, 2, 3, 4):  # ".fits.gz" before ".fits"
        if name.lower().endswith(SUFFIXES[index]):
            return index
    raise ValueError(f"no fuzzed suffix in {name}")


def write_corpus(folder: Path = CORPUS) -> int:
    """Write the seeds, each prefixed by its suffix byte, into ``folder``; returns how many."""
    folder.mkdir(exist_ok=True)
    corpus = seeds()
    for name, data in corpus.items():
        (folder / name.replace("/", "_")).write_bytes(bytes([suffix_of(name)]) + data)
    return len(corpus)


def test_one_input(data: bytes) -> None:
    """Read one fuzzed input; raise for anything but a valid Dataset or a FluxdsError naming the file."""
    if not data:
        return
    path = WORKDIR / f"input{SUFFIXES[data[0] % len(SUFFIXES)]}"
    path.write_bytes(data[1:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = fluxds.read(path)
            fluxds.validate(ds, where=str(path))
    except fluxds.FluxdsError as exc:
        if path.name not in str(exc):
            raise UnnamedError(f"{type(exc).__name__} without the file name: {exc}") from exc
    finally:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    folders = [a for a in argv[1:] if not a.startswith("-") and Path(a).is_dir()]
    for folder in folders:
        if not any(Path(folder).iterdir()):
            print(f"writing {write_corpus(Path(folder))} seeds into {folder}", flush=True)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
