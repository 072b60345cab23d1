"""Fuzzing fluxds's readers with mutated copies of real files (see fuzz/README.md)."""
