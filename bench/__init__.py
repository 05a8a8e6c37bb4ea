"""The benchmarks: digit-serve beside its references on loopback (make bench; bench/README.md)."""
