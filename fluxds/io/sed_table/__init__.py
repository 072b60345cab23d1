"""GADF SED tables (one row per energy bin) in FITS (one HDU per source), ECSV, HDF5 and plain text, and
fermipy's own SED layout; :mod:`.files`, :mod:`.fermipy`. The table <-> Dataset mapping itself is shared
(:mod:`fluxds.io.gadf_table`). The default format of a FITS, ECSV or HDF5 file no other family claims."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS"]

FORMATS = (
    Format(
        name="gadf-sed",
        summary="a GADF SED table (FITS, one HDU per source)",
        containers=("fits",),
        reader="sed_table.files:read_fits",
        writer="sed_table.files:write_fits",
        default_for=("fits",),
    ),
    Format(
        name="ecsv",
        summary="a GADF SED table in ECSV (one table)",
        containers=("ecsv",),
        reader="sed_table.files:read_ecsv",
        writer="sed_table.files:write_ecsv",
        default_for=("ecsv",),
    ),
    Format(
        name="hdf5",
        summary="a GADF SED table in HDF5 (one table)",
        containers=("hdf5",),
        reader="sed_table.files:read_hdf5",
        writer="sed_table.files:write_hdf5",
        default_for=("hdf5",),
    ),
    Format(
        name="ascii",
        summary="a plain-text table, read with columns= and units= maps",
        containers=("text",),
        reader="sed_table.files:read_ascii",
        writer=None,
    ),
    Format(
        name="fermipy-sed",
        summary="fermipy's own SED layout (GTAnalysis.sed), read as a GADF SED table",
        containers=("fits",),
        reader="sed_table.files:read_fits",
        writer="sed_table.fermipy:write",
    ),
)
