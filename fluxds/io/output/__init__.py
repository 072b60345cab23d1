"""Writing safely: atomic replacement through a private directory (:mod:`.atomic`), what fluxds may
overwrite (:mod:`.replaceable`), and file locks for batch work (:mod:`.locks`)."""
