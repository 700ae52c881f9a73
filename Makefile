# The README's two commands:  make demo  and  make test.
# Both create .venv on a fresh machine and install what they need, torch included.
#
# torch: on a machine with an NVIDIA driver (nvidia-smi works) the regular CUDA build of
# torch==$(TORCH_VERSION) is installed; everywhere else the CPU build torch==$(TORCH_VERSION)+cpu,
# never a multi-GB CUDA build. The CPU build is not on PyPI: pip finds it through its configured
# find-links/index, or through TORCH_CPU_INDEX (a PyTorch CPU wheel index URL) if you set one.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?=
CORES ?= all
# GPUs the demo may use: all visible ones, 0 on a CPU machine.
GPUS ?= $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
# How the demo computes (defaults: the config's, i.e. precision auto; on a CPU box 1 thread per
# training job, two jobs side by side being faster than one 2-thread job):
#   make demo DEMO_PRECISION=fp32          force fp32 (or bf16; auto = bf16 only where it is native)
#   make demo DEMO_THREADS=2               intra-op threads per training job (CPU)
#   make demo DEMO_EXPERIMENT=demo_bf16    results/<name>/ and reports/<name>/ instead of .../demo/
DEMO_PRECISION ?=
DEMO_THREADS ?= 1
DEMO_EXPERIMENT ?=
DEMO_CONFIG := $(if $(DEMO_PRECISION),'schedule={precision: $(DEMO_PRECISION)}',) $(if $(DEMO_EXPERIMENT),experiment=$(DEMO_EXPERIMENT),)
DEMO_FLAGS ?= $(if $(filter 0,$(GPUS)),--set-threads train=$(DEMO_THREADS) train_pack=$(DEMO_THREADS) train_many=$(DEMO_THREADS),) \
  $(if $(strip $(DEMO_CONFIG)),--config $(DEMO_CONFIG),)
SNAKEMAKE := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake

.PHONY: setup demo test lint dryrun clean help

help:
	@echo "make demo   set up .venv and run the workflow on the embedded synthetic dataset (reports/demo/index.html)"
	@echo "make test   set up .venv and run the whole test suite"
	@echo "make lint   snakemake --lint"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	@if nvidia-smi -L >/dev/null 2>&1; then \
	  echo "GPU found: installing torch==$(TORCH_VERSION) (CUDA build)"; \
	  $(BIN)/pip install "torch==$(TORCH_VERSION)"; \
	else \
	  echo "no GPU: installing the CPU build torch==$(TORCH_VERSION)+cpu"; \
	  $(BIN)/pip install "torch==$(TORCH_VERSION)+cpu" $(if $(TORCH_CPU_INDEX),--extra-index-url $(TORCH_CPU_INDEX)) \
	  || { echo "error: no CPU wheel of torch $(TORCH_VERSION) found. Set TORCH_CPU_INDEX to a PyTorch CPU wheel index" \
	            "(see README), or install torch yourself into $(VENV)."; exit 1; }; \
	fi
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed

demo: setup
	$(SNAKEMAKE) --cores $(CORES) --resources gpu=$(GPUS) $(DEMO_FLAGS)
	@echo "Report: $(CURDIR)/reports/$(or $(DEMO_EXPERIMENT),demo)/index.html"

# the suite runs on every core plus one (pytest-xdist): the SLURM and kill/resume tests spend most of
# their time waiting, and the extra worker keeps the cores busy meanwhile. A module's tests stay on
# one worker, so each module's shared workflow run happens once (TEST_WORKERS=0: one process).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)

lint: setup
	$(SNAKEMAKE) --lint --workflow-profile none

dryrun: setup
	$(SNAKEMAKE) -n --workflow-profile none --quiet rules

clean:
	rm -rf results logs benchmarks .snakemake $(filter-out reports/README.md,$(wildcard reports/*))
