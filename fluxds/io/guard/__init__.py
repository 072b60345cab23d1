"""Checks that run on a file from elsewhere before any library parses it: the read budget
(:mod:`.budget`), declared sizes of FITS/HDF5/classic netCDF/zarr/YAML/ECSV (:mod:`.fits_sizes`,
:mod:`.hdf5_sizes`, :mod:`.hdf5_layout`, :mod:`.classic_header`, :mod:`.zarr_safe`, :mod:`.yaml_safe`,
:mod:`.ecsv_safe`), special files and pickles (:mod:`.input_file`, :mod:`.untrusted`), and reading in a
confined child process (:mod:`.isolated`, :mod:`.isolated_supervisor`, :mod:`.isolated_child`). No
format family is imported from here."""
