# realizar: the commands CI and developers run. `make verify` is the gate.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# The one list of fuzz targets is fuzz/Cargo.toml's [[bin]] sections (cargo-fuzz needs it).
FUZZ_TARGETS := $(shell awk '/^\[\[bin\]\]/ {b = 1; next} /^\[/ {b = 0} b && $$1 == "name" {gsub(/"/, "", $$3); print $$3}' fuzz/Cargo.toml)
# Seconds per target in the smoke run (make verify); long runs use `make fuzz`.
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_SECONDS ?= 600
# No input of a few KB (libFuzzer grows max_len to about 12 KB here) justifies an allocation this large.
FUZZ_MALLOC_LIMIT_MB ?= 64

.PHONY: help gpu-check build test lint fuzz-tools fuzz-smoke fuzz uv golden golden-quant golden-ggml golden-models golden-vocab golden-sampling golden-rope golden-detokenize golden-check contracts engine-llamacpp contracts-llamacpp engine-candle contracts-candle report-check bench bench-e2e bench-tokenize coverage coverage-tools mutants mutants-tools mutants-gate verify

help:
	@echo "make verify      lint + test + golden-check + contracts + fuzz-smoke: what CI runs"
	@echo "make contracts   oracle verify, then oracle verify --falsify; reports in reports/"
	@echo "make gpu-check   the GPU adapter the GPU backend would open (lavapipe in CI); fails without one"
	@echo "make coverage    line coverage (cargo-llvm-cov), gate 85% per crate; README quality table"
	@echo "make mutants     mutation testing of quant, ops and forward (cargo-mutants), gate 80%"
	@echo "make test        every unit, integration, property and snapshot test"
	@echo "make lint        rustfmt check and clippy -D warnings on all targets"
	@echo "make fuzz-smoke  each fuzz target for $(FUZZ_SMOKE_SECONDS)s (stable, no sanitizer); fails on any crash"
	@echo "make fuzz T=gguf_header  one target for $(FUZZ_SECONDS)s under AddressSanitizer (nightly)"
	@echo "make golden        regenerate every golden set from the reference tools (uv, pinned versions)"
	@echo "make golden-quant  golden/quant from gguf-py"
	@echo "make golden-ggml   rebuild ggml: its test-quantize-fns errors, its K-quant quantizer bytes"
	@echo "make golden-models tokenizer, reference models, HF f64 and llama.cpp goldens"
	@echo "make golden-vocab  llama.cpp's tokenizer test vectors (vocab GGUFs, .inp, .out)"
	@echo "make golden-sampling  llama.cpp's sampler chain, stage by stage, on seeded logits"
	@echo "make golden-rope      HF's RoPE frequencies (YaRN, linear) for shapes the models miss"
	@echo "make golden-detokenize  llama.cpp's detokenizer's bytes for test-vector and seeded ids on every golden/vocab vocabulary"
	@echo "make golden-check  every golden file against its manifest (sha256, tensors, script hashes)"
	@echo "make report-check  headless Chromium renders reports/index.html (after make contracts)"
	@echo "make bench       matvec throughput per type vs this machine's read bandwidth"
	@echo "make bench-e2e   realizar vs a native llama-bench on a TinyLlama-shaped model (Q4_K_M, Q8_0; pp128, pp512, tg32; 1 and 2 threads)"
	@echo "make engine-llamacpp  build llama.cpp's engine-protocol adapter ($(LLAMA_ENGINE))"
	@echo "make contracts-llamacpp  the contracts that apply to another engine, on llama.cpp (with --falsify)"
	@echo "make engine-candle    build candle's engine-protocol adapter ($(CANDLE_ENGINE))"
	@echo "make contracts-candle the contracts that apply to another engine, on candle (with --falsify)"
	@echo "make bench-tokenize  realizar's tokenizer vs llama.cpp's (llama_tokenize in process) on every real vocabulary, 1 MiB each"

build:
	cargo build --workspace --all-targets

# The total goes in a plain "N passed, N failed" line, which CI reads as the run's verdict.
TEST_LOG := target/test-output.log
TOTALS := awk '/^test result:/ {p += $$4; f += $$6} END {printf "%d passed, %d failed\n", p, f}' $(TEST_LOG)

test: uv
	@mkdir -p target
	cargo test --workspace 2>&1 | tee $(TEST_LOG)
	@echo "tests: $$($(TOTALS))"

lint:
	cargo fmt --all -- --check
	cd fuzz && cargo fmt -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fuzz-tools:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Stable Rust runs libFuzzer without a sanitizer (-s none). New inputs go to a scratch folder
# listed first, so the committed seeds in fuzz/corpus stay as they are. The grep only trims the
# log; pipefail carries cargo-fuzz's exit code, so a crash fails the target.
fuzz-smoke: fuzz-tools
	for t in $(FUZZ_TARGETS); do \
	  scratch=target/fuzz-smoke/$$t; rm -rf $$scratch; mkdir -p $$scratch; \
	  echo "fuzz-smoke: $$t for $(FUZZ_SMOKE_SECONDS)s"; \
	  cargo fuzz run -s none --target-dir fuzz/target/none $$t $$scratch fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SMOKE_SECONDS) -malloc_limit_mb=$(FUZZ_MALLOC_LIMIT_MB) \
	    -print_final_stats=1 2>&1 | { grep -E 'DONE|^Done|executed_units|panicked|ERROR|SUMMARY|artifact|Test unit' || true; }; \
	done

# AddressSanitizer needs nightly (installed on these machines); its own target dir keeps the
# stable build's cached compiler probe from breaking it.
fuzz: fuzz-tools
	@test -n "$(T)" || { echo "usage: make fuzz T=<$(FUZZ_TARGETS)>"; exit 2; }
	mkdir -p target/fuzz-long/$(T)
	cargo +nightly fuzz run --target-dir fuzz/target/asan $(T) target/fuzz-long/$(T) fuzz/corpus/$(T) -- \
	  -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=$(FUZZ_MALLOC_LIMIT_MB) -print_final_stats=1

uv:
	@command -v uv >/dev/null || python3 -m pip install --quiet uv

# Goldens come only from reference implementations: gguf-py here, pinned in the script.
golden-quant: uv
	uv run golden/scripts/quant_golden.py

golden-ggml: uv
	uv run golden/scripts/ggml_quantize_fns.py
	uv run golden/scripts/ggml_quantize_ref.py

# --locked: the resolved versions of every package are the ones in models.py.lock.
golden-models: uv
	uv run --locked golden/scripts/models.py

# llama.cpp's own tokenizer test vectors, copied from the pinned sdist with their hashes.
golden-vocab: uv
	uv run golden/scripts/vocab.py

# llama.cpp's samplers, stage by stage, on seeded random logits.
golden-sampling: uv
	uv run --locked golden/scripts/sampling.py

golden-rope: uv
	uv run --locked golden/scripts/rope.py

# llama.cpp's detokenizer (llama_detokenize as common_detokenize calls it) on every vocabulary of
# golden/vocab: it reads golden-vocab's files, so `golden` lists it after that target.
golden-detokenize: uv
	uv run --locked golden/scripts/detokenize.py

golden: golden-quant golden-ggml golden-models golden-vocab golden-sampling golden-rope golden-detokenize
	@git status --short golden || true

golden-check:
	cargo run --release --quiet --bin oracle -- golden check

# Every contract against the goldens, then again with each contract's faults injected (a
# separate build with the engine's fault hooks, in its own target folder so the two builds do
# not replace each other). Both write JSON and JUnit reports to reports/.
contracts:
	cargo run --release --quiet --bin oracle -- comply check
	cargo run --release --quiet --bin oracle -- verify --reports reports
	cargo run --release --quiet --features falsify --target-dir target/falsify --bin oracle -- \
	  verify --falsify --reports reports

# The report as a browser renders it: headless Chromium (Debian's `chromium`) loads
# reports/index.html (written by `make contracts`); the DOM it renders must hold the summary, the
# verdict, falsification and provenance tables and one plot per TRACE-PARITY model, and its
# screenshot (reports/index.png) must not be blank.
CHROMIUM ?= chromium
CHROMIUM_FLAGS := --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,4000
report-check:
	@test -f reports/index.html || { echo "report-check: no reports/index.html; run make contracts"; exit 1; }
	$(CHROMIUM) $(CHROMIUM_FLAGS) --dump-dom file://$(CURDIR)/reports/index.html > reports/dom.html 2>/dev/null
	$(CHROMIUM) $(CHROMIUM_FLAGS) --screenshot=$(CURDIR)/reports/index.png file://$(CURDIR)/reports/index.html >/dev/null 2>&1
	@for id in summary verdicts falsification provenance; do \
	  grep -q "id=\"$$id\"" reports/dom.html || { echo "report-check: the rendered page has no #$$id"; exit 1; }; \
	done
	@plots=$$(grep -o '<svg' reports/dom.html | wc -l); \
	traced=$$(grep -c 'check: trace_parity' contracts/trace-parity.yaml); \
	test "$$plots" -eq "$$traced" || { echo "report-check: $$plots plots for $$traced traced models"; exit 1; }; \
	size=$$(stat -c %s reports/index.png); \
	test "$$size" -gt 100000 || { echo "report-check: screenshot of $$size bytes"; exit 1; }; \
	echo "report-check: Chromium rendered reports/index.html: $$plots plots, every table, screenshot $$size bytes"

bench:
	cargo bench -p realizar --bench matvec

coverage-tools:
	@command -v cargo-llvm-cov >/dev/null || { rustup component add llvm-tools-preview && cargo install cargo-llvm-cov --locked; }

# Line coverage of the whole workspace's tests; the gate is 85% of engine/ and of oracle/.
coverage: coverage-tools
	mkdir -p reports/coverage
	cargo llvm-cov --workspace --no-report
	cargo llvm-cov report --workspace --lcov --output-path reports/coverage/lcov.info
	cargo llvm-cov report --workspace --html --output-dir reports/coverage
	cargo run --release --quiet --bin oracle -- quality coverage --lcov reports/coverage/lcov.info

mutants-tools:
	@command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
	@command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

# Mutants of the kernels, ops and forward pass. A mutant counts as caught only if the engine's
# unit tests, the parity tests (goldens, kernels) or the contracts (oracle_contracts runs every
# committed contract) notice it. Each mutant costs one incremental rebuild in the `mutants`
# profile (optimised, no debug info) and a nextest run under .config/nextest.toml's `mutants`
# profile: stop at the first failure, the ten-second contracts test started first beside the
# quick ones, the GPU's tests left out (the mutated code runs on the CPU). The GPU adapter is
# hidden too (REALIZAR_GPU_ADAPTER matches none, REALIZAR_NO_GPU=1 accepts that), so GPU-PARITY
# is NOT RUN inside the contracts test instead of a minute on lavapipe.
# cargo-mutants 27 runs its baseline with the mutated package's tests only (realizar), where
# these tests do not live, so the baseline here is ours: the same tests, same profiles, unmutated.
# Each job builds its own copy of the tree from scratch first (about five minutes): a copied
# target/ is rebuilt anyway, its files' times having changed.
# Without its baseline cargo-mutants cannot derive timeouts, so they are set: a hung mutant
# counts as caught. It exits 2 for missed and 3 for timed-out mutants (the gate below judges
# those); anything else is an error. outcomes.json is rewritten after every mutant, so an
# interrupted run resumes with MUTANT_ARGS=--iterate (what was caught is not tested again).
MUTANT_FILES := -f 'engine/src/quant/**/*.rs' -f engine/src/ops.rs -f engine/src/model/forward.rs
MUTANT_TESTS := quant_golden quant_kernels model_parity rope_golden tokenizer_parity oracle_contracts
MUTANT_CARGO_ARGS := --exclude=realizar-oracle --lib $(addprefix --test=,$(MUTANT_TESTS))
MUTANT_ENV := NEXTEST_PROFILE=mutants REALIZAR_NO_GPU=1 REALIZAR_GPU_ADAPTER=hidden-for-mutants
MUTANT_JOBS ?= 2
# e.g. MUTANT_ARGS="--shard 0/4" MUTANT_OUT=reports/shard0 to split a run. The gate merges every
# outcomes file named in MUTANT_OUTCOMES, a mutant's last outcome counting, so shards and reruns
# add up.
MUTANT_ARGS ?=
MUTANT_OUT ?= reports
MUTANT_OUTCOMES ?= $(MUTANT_OUT)/mutants.out/outcomes.json
mutants: mutants-tools
	mkdir -p $(MUTANT_OUT)
	$(MUTANT_ENV) cargo nextest run --cargo-profile mutants --workspace $(MUTANT_CARGO_ARGS)
	$(MUTANT_ENV) cargo mutants --package realizar --test-workspace=true --baseline=skip \
	  --profile mutants --test-tool=nextest \
	  --timeout 60 --build-timeout 900 --jobs $(MUTANT_JOBS) --no-shuffle $(MUTANT_FILES) \
	  $(addprefix --cargo-arg=,$(MUTANT_CARGO_ARGS)) --output $(MUTANT_OUT) $(MUTANT_ARGS) \
	  || { rc=$$?; [ $$rc -eq 2 ] || [ $$rc -eq 3 ] || exit $$rc; }
	$(MAKE) --no-print-directory mutants-gate

# The gate alone, on outcomes already written.
mutants-gate:
	cargo run --release --quiet --bin oracle -- quality mutants $(addprefix --outcomes ,$(MUTANT_OUTCOMES))

# Generates the TinyLlama-shaped model and its quantizations (target/bench-e2e, reused), then
# times realizar and llama-bench on the same files.
bench-e2e: uv
	uv run --locked golden/scripts/bench_model.py
	cargo bench -p realizar --bench e2e

# Builds llama-tokenize from the pinned sdist (cached), then times both tokenizers on every
# vocabulary of golden/vocab.
bench-tokenize: uv
	uv run --locked golden/scripts/llama_tools.py --program llama_tokenize_bench
	cargo bench -p realizar --bench tokenize

# llama.cpp as an engine under test (oracle/adapters/llamacpp/llama_engine.cpp, the engine
# protocol against the pinned libllama; the first build of libllama takes minutes).
LLAMA_ENGINE := golden/.cache/llama-build/bin/llama-engine
engine-llamacpp: uv
	uv run --locked golden/scripts/llama_tools.py --program oracle/adapters/llamacpp/llama_engine.cpp

# The contracts that apply to another engine, on llama.cpp, with the perturbing wrapper: a
# measurement of llama.cpp against the goldens (reports/llamacpp/), not a gate on realizar, so
# the obligations llama.cpp violates (README, "Other engines") are printed, not fatal (exit 1).
# A BROKEN contract (a perturbation not caught) or a run that did not happen still fails.
contracts-llamacpp: engine-llamacpp
	cargo run --release --quiet --bin oracle -- verify --engine 'cmd:$(LLAMA_ENGINE)' --falsify \
	  --reports reports/llamacpp || [ $$? -eq 1 ]
	@! grep -q '"verdict":"BROKEN"' reports/llamacpp/falsify.json \
	  || { echo "contracts-llamacpp: a perturbation went uncaught (reports/llamacpp/falsify.json)"; exit 1; }

# candle as an engine under test (oracle/adapters/candle: candle-transformers' quantized llama,
# pinned, CPU, default features). A workspace of its own with its own Cargo.lock and target
# folder, so no other build reaches candle (about 10 minutes to build it the first time).
CANDLE_ENGINE := oracle/adapters/candle/target/release/candle-engine
engine-candle:
	cargo build --release --locked --manifest-path oracle/adapters/candle/Cargo.toml \
	  --target-dir oracle/adapters/candle/target

# The same contracts on candle, with the perturbing wrapper, reports in reports/candle/: a
# measurement of candle (README, "Other engines"), so the obligations it violates, and those
# asking for what it refuses (traces, tokenization, HF directories, the families it does not
# implement), are printed, not fatal (exit 1). A BROKEN contract or a run that did not happen
# still fails.
contracts-candle: engine-candle
	cargo run --release --quiet --bin oracle -- verify --engine 'cmd:$(CANDLE_ENGINE)' --falsify \
	  --reports reports/candle || [ $$? -eq 1 ]
	@! grep -q '"verdict":"BROKEN"' reports/candle/falsify.json \
	  || { echo "contracts-candle: a perturbation went uncaught (reports/candle/falsify.json)"; exit 1; }

# The GPU backend's tests and GPU-PARITY need an adapter: Mesa's lavapipe where there is no GPU
# (.ci/run installs it). Without one, verify stops here rather than reporting GPU-PARITY NOT RUN
# and failing later in the tests' GPU variants; REALIZAR_NO_GPU=1 skips both knowingly.
gpu-check:
	@mkdir -p target
	@if [ "$${REALIZAR_NO_GPU:-}" = 1 ]; then \
	  echo "gpu-check: REALIZAR_NO_GPU=1: without an adapter the tests skip their GPU variants and GPU-PARITY is NOT RUN"; \
	else \
	  cargo run --release --quiet --bin realizar -- backends | tee target/backends.txt; \
	  grep -q '^gpu  available' target/backends.txt \
	    || { echo "gpu-check: no GPU adapter (install mesa-vulkan-drivers, or set REALIZAR_NO_GPU=1)"; exit 1; }; \
	fi

verify: gpu-check lint test golden-check contracts fuzz-smoke
	@echo "make verify: lint, tests, golden check, contracts (with falsification) and fuzz smoke passed"
	@echo "verify: $$($(TOTALS))"
