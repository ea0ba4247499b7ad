"""Developer tools outside the installed package: the benchmark (and the local cluster)."""
