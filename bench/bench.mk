# `make bench`: the benchmark of issue 5 (bench/README.md). BENCH_QUICK=1 for a short run.
# `make bench-nginx`: the gateway benchmark inside nginx (bench/gateway.sh, about 2 minutes).
.PHONY: bench bench-nginx
bench:
	@bash bench/run.sh
bench-nginx: deps build
	@bash bench/gateway.sh
