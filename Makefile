# flowmerge: two commands matter — `make demo` and `make test`.
VENV    := .venv
PYTHON  := $(VENV)/bin/python
RELEASE := target/release/flowmerge

.PHONY: demo test infra-test bench build venv infra-deps lint fuzz clean

## Build the release binary.
build:
	cargo build --release -p flowmerge-cli

## Generate sample data, compact it, verify conservation, show the result.
demo: build
	rm -rf demo
	$(RELEASE) generate demo/raw --minutes 10 --accounts 24 --bad-lines 12 --bad-files
	$(RELEASE) compact demo/raw demo/out
	$(RELEASE) verify demo/raw demo/out
	@echo
	@echo "Output files:"
	@find demo/out/flowlogs -name '*.parquet' | sort | head -5
	@echo "Second run (idempotent):"
	$(RELEASE) compact demo/raw demo/out

## Python venv with the real readers and AWS stand-ins the tests use.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r tests/requirements.txt
	touch $@

## The CDK app's npm packages (the end-to-end tests synthesise it too).
infra-deps: infra/node_modules/.installed
infra/node_modules/.installed: infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund
	touch $@

## Formatting and lints.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## CDK app: jest (template assertions, cdk-nag, ASL validation) and an offline synth.
infra-test: infra-deps
	cd infra && npm test && npm run synth:offline

## Every test: lints, Rust tests (S3 and DynamoDB against moto), DuckDB/pyarrow
## read-back, and the CDK app's tests.
test: venv infra-deps lint
	tests/run.sh
	$(MAKE) infra-test

## Fuzz every input reader for FUZZ_SECONDS each (libFuzzer via cargo fuzz,
## seeded from tests/fixtures and generated data of every delivery kind).
FUZZ_SECONDS ?= 600
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

## Benchmarks side by side with DuckDB, pyarrow and the igzip decompression floor;
## writes bench/out/report.md. SCALE=2 doubles the dataset.
SCALE ?= 1
bench: build venv
	command -v igzip > /dev/null && [ -x /usr/bin/time ] || (apt-get update -qq && apt-get install -y -qq isal time)
	$(PYTHON) bench/run.py --scale $(SCALE)

clean:
	rm -rf demo $(VENV) target
