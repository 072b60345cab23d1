"""fluxds benchmarks: timings against gammapy and bare numpy. Run ``python benchmarks/run.py [--quick]``."""
