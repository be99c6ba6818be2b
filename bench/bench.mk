# `make bench`: the benchmark of issue 5 (bench/README.md). BENCH_QUICK=1 for a short run.
.PHONY: bench
bench:
	@bash bench/run.sh
