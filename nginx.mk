# podero inside nginx (issue 4): included by the Makefile.
.PHONY: test-nginx openresty-demo openresty-demo-once

# A real nginx (Debian's, private prefix, free loopback port) with podero in its handlers, once
# with 1 worker and once with 4, driven with curl; ends with "N passed, N failed".
test-nginx: deps build
	@sh scripts/test-nginx.sh

# examples/openresty against a local sandbox: prints the URL to open; Ctrl-C stops both.
openresty-demo: deps build
	@bash examples/openresty/run.sh

# The same, started, fetched once (page and JSON) and stopped (for CI).
openresty-demo-once: deps build
	@bash examples/openresty/run.sh --once
