# The two commands a new user runs: `make demo` and `make test`.
# Each installs the Debian packages it needs first (scripts/deps.sh).
GO      ?= go
BIN     := bin
export CGO_ENABLED := 1

.PHONY: deps build demo deb test fmt-check vet testbed-up bench bench-station

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -o $(BIN)/ ./cmd/...

# The demo uses the virtual card on the real pcscd when it can start it
# (also when it has only just started it), else the in-process software card.
demo: build
	@if scripts/testbed-up.sh; then chip=vicc; else echo "pcscd not started: the demo uses the software chip"; chip=soft; fi; \
	$(BIN)/printstation-demo --chip $$chip --out demo-out --exit-when-done

# The Debian package in dist/, checked with lintian (scripts/deb.sh;
# VERSION=... to set its version).
deb: deps
	@scripts/deb.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: deps
	$(GO) vet ./...

testbed-up: deps
	@scripts/testbed-up.sh

test: deps fmt-check vet testbed-up
	$(GO) test -count=1 -timeout 45m ./...
	$(GO) test -count=1 -tags failpoints ./internal/failpoint/

bench: deps testbed-up
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# The whole station as real processes (printstationd, printersim,
# centralsim), figures of issue 18 beside same-run baselines; pass/fail per
# target, no assertion. BENCH_FLAGS="--only cpu,util" picks scenarios.
bench-station: build testbed-up
	$(GO) run ./bench/station --bin $(BIN) $(BENCH_FLAGS)
