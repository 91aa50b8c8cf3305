# Convenience front end over CMake. `make test` is the README's test command; CI calls it.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup build test test-sanitize long-check bench clean golden quickstart gpu-check

all: build

setup:
	@scripts/setup.sh --quiet
	@scripts/setup_refs.sh --quiet

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Default suite: unit tests, golden-file regeneration check (when torch is present), integration tests.
test: build
	@scripts/test.sh $(BUILD)

# The same suite built with ASan + UBSan. Without the CUDA backend: the CUDA runtime and ASan do not mix, and
# `make test` already compiles and links every CUDA file.
test-sanitize: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVISFT_SANITIZE=ON -DVISFT_CUDA=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@scripts/test.sh $(ASAN_BUILD) --no-golden

# Slow checks kept out of the default suite (fuzzing runs, long training runs).
long-check: build
	@scripts/long_check.sh $(BUILD)

# The README's main job: the two ViSFT stages on synthetic shapes, before/after table, about a minute on CPU.
quickstart: build
	@$(BUILD)/visft run configs/shapes_linear.yaml

bench: build
	@$(BUILD)/visft bench gemm
	@$(BUILD)/visft bench vit

# Everything that needs a GPU (docs/cuda.md): logs and a summary in gpu-logs/.
gpu-check:
	@tests/gpu/run.sh gpu-logs

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Regenerates the committed golden files from the PyTorch reference scripts.
golden:
	@py=/usr/bin/python3; [ -x .venv-ref/bin/python ] && py=.venv-ref/bin/python; $$py tests/ref/gen_all.py --out tests/golden
