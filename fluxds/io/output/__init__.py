"""Writing safely: atomic replacement through a private directory (:mod:`.atomic`; descriptor-level file
operations in :mod:`.dirfd`, placing and swapping back in :mod:`.placing`, the diagnosis of a failed
write in :mod:`.write_errors`, dask computing in this process in :mod:`.dask_writes`), what fluxds may
overwrite (:mod:`.replaceable`), and file locks for batch work (:mod:`.locks`)."""
