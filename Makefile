# The front door. `make help` lists the targets.
#   make run   set up .venv, then execute every notebook offline into reports/
#   make test  set up .venv, then the whole test suite (unit tests + nbval over the notebooks, on every core)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REPORTS := reports
# Extra papermill arguments for `make run`, e.g. ARGS='-p study_dir /path/to/tau-usi'
ARGS ?=
# Extra pytest arguments for `make test`, e.g. PYTEST_ARGS='-m "not slow"'
PYTEST_ARGS ?=

# Everything runs offline by default: litellm must not fetch its price map, the Hub client must not call home.
export LITELLM_OFFLINE_MODE := true
export HF_HUB_OFFLINE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# llama-cpp-python compiles from source: use both cores.
export CMAKE_BUILD_PARALLEL_LEVEL := 2
# A portable llama.cpp build: x86-64 with AVX2/FMA/F16C, never -march=native, whose AMX
# kernels fault on virtual machines that report AMX (README, "The embedded model"). No
# multimodal library (the toolkit never loads images): a shorter compile. Override on the
# command line or in the environment, e.g. CMAKE_ARGS='-DGGML_NATIVE=ON'.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# The worked exercises: they read what the notebooks hand over, so they run after them.
SOLUTIONS := $(sort $(wildcard notebooks/solutions/[0-9][0-9]_*_solutions.ipynb))

.PHONY: help setup rebuild-llama cmake-args run site test test-fast test-slow lint bench lab download demo strip refresh freeze clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

# The Python set-up needs (pyproject.toml's requires-python), and a probe of an interpreter's
# version that runs on any Python, even one too old for the project.
PYTHON_NEEDED := $(shell sed -nE 's/^requires-python = ">=([0-9]+[.][0-9]+)"$$/\1/p' pyproject.toml)
VERSION_PROBE := -c 'import sys; print("%d.%d" % sys.version_info[:2])'
# $(call at_least_needed,VERSION): true when VERSION (e.g. 3.12) is $(PYTHON_NEEDED) or newer.
at_least_needed = printf '%s\n' $(PYTHON_NEEDED) "$(1)" | sort -V -C

# An existing .venv is reused only when its Python runs, is new enough and has pip; anything else
# (an interrupted `venv`, a venv without pip, one made by an older Python) is removed and made
# again, and then only after $(PYTHON) passed the version check, in one line naming the version
# found and the one needed. A venv that fails to be made is removed at once. The stamp is
# touched last, so a failed install is retried by the next `make setup`. It is touched only after
# the embedded model completed a 1,024-token prompt in a child process
# (usersim_utils/rollout/model_check.py): a build that faults on this CPU stops here, in one
# line, and not in notebook 02.
$(STAMP): pyproject.toml constraints.txt
	@venv=$$($(BIN)/python $(VERSION_PROBE) 2>/dev/null) || venv=; \
	if [ -n "$$venv" ] && $(call at_least_needed,$$venv) && $(BIN)/python -m pip --version >/dev/null 2>&1; then \
	  exit 0; \
	fi; \
	if [ -z "$(PYTHON)" ]; then \
	  echo "error: no python3.11 or python3 on PATH; make setup needs Python $(PYTHON_NEEDED) or newer: install it, or pass PYTHON=/path/to/python$(PYTHON_NEEDED)" >&2; exit 2; \
	fi; \
	found=$$($(PYTHON) $(VERSION_PROBE) 2>/dev/null) || found=; \
	if [ -z "$$found" ]; then \
	  echo "error: PYTHON=$(PYTHON) does not run as Python (no version found); make setup needs Python $(PYTHON_NEEDED) or newer: pass PYTHON=/path/to/python$(PYTHON_NEEDED)" >&2; exit 2; \
	fi; \
	if ! $(call at_least_needed,$$found); then \
	  echo "error: PYTHON=$(PYTHON) is Python $$found; make setup needs Python $(PYTHON_NEEDED) or newer (pyproject.toml): install it, or pass PYTHON=/path/to/python$(PYTHON_NEEDED)" >&2; exit 2; \
	fi; \
	if [ -e $(VENV) ]; then echo "$(VENV) is incomplete or made by another Python: making it again with Python $$found"; fi; \
	rm -rf $(VENV); \
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "error: $(PYTHON) -m venv $(VENV) failed (Debian: apt-get install python$$found-venv); nothing was left in $(VENV)" >&2; exit 2; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,site]'
	$(BIN)/python -m usersim_utils.rollout.model_check
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv at the repository root and install everything (pinned)

cmake-args: ## Print the CMAKE_ARGS of the llama.cpp build (for a conda set-up: environment.yml)
	@echo '$(CMAKE_ARGS)'

LLAMA_PIN := $(shell grep -oE '^llama_cpp_python==[^ ]+' constraints.txt)
rebuild-llama: ## Recompile llama-cpp-python with CMAKE_ARGS (portable by default), bypassing pip's wheel cache
	@test -x $(BIN)/python || { echo "error: no $(VENV); run make setup" >&2; exit 2; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-cache-dir --force-reinstall --no-deps '$(LLAMA_PIN)'
	$(BIN)/python -m usersim_utils.rollout.model_check
	@touch $(STAMP)

# Each notebook runs into reports/.partial/ and moves into reports/notebooks/ only when it
# finished, so a failed run never replaces the last good executed notebook; on failure one
# line names the notebook and the error, and the partial output and its log stay for reading.
PARTIAL := $(REPORTS)/.partial
run: $(STAMP) ## Execute every notebook offline with papermill into reports/ (ARGS='-p name value' to change parameters)
	@set -e; all="$(NOTEBOOKS) $(SOLUTIONS)"; n=$$(echo $$all | wc -w); i=0; start=$$(date +%s); \
	for nb in $$all; do \
	  i=$$((i + 1)); out=$(REPORTS)/$$nb; part=$(PARTIAL)/$$nb; mkdir -p $$(dirname $$out) $$(dirname $$part); \
	  t0=$$(date +%s); printf '[%d/%d] %s ... ' $$i $$n $$nb; \
	  if $(BIN)/papermill --cwd $$(dirname $$nb) --kernel python3 --no-progress-bar $$nb $$part $(ARGS) \
	       > $$part.log 2>&1; then \
	    mv $$part $$out; rm -f $$part.log; echo "$$(( $$(date +%s) - t0 )) s"; \
	  else \
	    echo "failed"; \
	    reason=$$(grep -E '^[A-Za-z_.]*(Error|Exception|Interrupt)\b' $$part.log | tail -1); \
	    echo "error: $$nb: $${reason:-see the log} (partial output $$part, log $$part.log; $$out is unchanged)" >&2; \
	    exit 1; \
	  fi; \
	done; \
	echo "Executed $$n notebooks in $$(( $$(date +%s) - start )) s: $(REPORTS)/notebooks/ (open them with make lab), figures in $(REPORTS)/figures/"

# The report site's JavaScript (Vega, Vega-Lite, vega-embed, MathJax): npm packages pinned by
# docs/js/package-lock.json, installed into the git-ignored docs/js/node_modules.
SITE_JS := docs/js/node_modules/.package-lock.json

$(SITE_JS): docs/js/package.json docs/js/package-lock.json
	@command -v npm >/dev/null || { echo "error: make site needs npm (Debian: apt-get install npm)" >&2; exit 2; }
	npm ci --prefix docs/js --no-audit --no-fund --ignore-scripts --loglevel=error

# Extra arguments of the site builder, e.g. SITE_ARGS=--allow-stale (publish a notebook older than one before it)
SITE_ARGS ?=
site: $(STAMP) $(SITE_JS) ## Build the report site from the executed notebooks (run `make run` first) into reports/site/; refuses a failed or stale notebook (SITE_ARGS=--allow-stale)
	$(BIN)/python docs/build_site.py --reports $(REPORTS) --out $(REPORTS)/site $(SITE_ARGS)

# The notebooks' checked numbers are computed on the SYNTHETIC demo panel, so nbval always
# runs them there, even when the real study data sits in data/raw/tau-usi.
DEMO_DIR := $(CURDIR)/data/demo/SYNTHETIC-tau-usi

# Test processes (pytest-xdist): one per core. Each test module runs whole on one worker and the
# notebooks run in order on one worker (tests/conftest.py); TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
XDIST = -n $(TEST_WORKERS) --dist loadscope

# The demo panel is made once before the workers start (they only read it).
test: $(STAMP) ## Run the whole test suite on both cores: lint, unit tests and nbval over every notebook and solution (on the demo panel); speed bounds: make bench
	$(BIN)/ruff check usersim_utils tests notebooks benchmarks docs
	$(BIN)/python -c "from usersim_utils import demo; demo.ensure_demo_panel()"
	USERSIM_TAU_USI_DIR=$(DEMO_DIR) $(BIN)/python -m pytest tests $(NOTEBOOKS) $(SOLUTIONS) -m "not bench" --nbval-lax \
	  $(XDIST) -p no:cacheprovider $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit tests only, without the slow ones
	$(BIN)/python -m pytest tests -m "not slow" $(XDIST) -p no:cacheprovider $(PYTEST_ARGS)

test-slow: $(STAMP) ## Only the slow tests (real embedded model, full-size benchmarks)
	$(BIN)/python -m pytest tests -m slow -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP) ## Check the package, the tests, the notebooks and the benchmarks with ruff (pyproject.toml [tool.ruff])
	$(BIN)/ruff check usersim_utils tests notebooks benchmarks docs

bench: $(STAMP) ## Run the benchmarks and print their figures, then the speed bounds of full-size studies (-m bench)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done
	$(BIN)/python -m pytest tests -m bench -p no:cacheprovider $(PYTEST_ARGS)

# JupyterLab's own flags for `make lab`, e.g. LAB_ARGS='--no-browser --port 8890'. As root,
# JupyterLab refuses to start without --allow-root, which is then added.
LAB_ARGS ?=
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP) ## JupyterLab on the repository: notebooks/ to run, reports/notebooks/ as make run executed them (LAB_ARGS='--no-browser --port 8890' for its flags; --allow-root added as root)
	@echo "JupyterLab on $(CURDIR): notebooks/ (without outputs: run them), $(REPORTS)/notebooks/ (executed by make run)"
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) $(LAB_ROOT_FLAG) $(LAB_ARGS)

download: $(STAMP) ## Download the gated study data (needs accepted terms and HF_TOKEN) to data/raw/tau-usi
	HF_HUB_OFFLINE=0 $(BIN)/python -m usersim_utils.data download

demo: $(STAMP) ## (Re)generate the SYNTHETIC demo panel under data/demo/
	$(BIN)/python -c "from usersim_utils import demo; print(demo.ensure_demo_panel())"

strip: $(STAMP) ## Remove notebook outputs except nbval-checked cells (run before committing notebooks)
	$(BIN)/python -m usersim_utils.notebooks strip $(NOTEBOOKS) $(SOLUTIONS)

refresh: $(STAMP) ## Re-execute the notebooks in order and keep only their nbval-checked outputs (after a deliberate change)
	@set -e; for nb in $(NOTEBOOKS) $(SOLUTIONS); do echo "== $$nb"; $(BIN)/python -m usersim_utils.notebooks refresh $$nb; done

freeze: $(STAMP) ## Print the installed versions (to refresh constraints.txt)
	$(BIN)/python -m pip freeze --exclude-editable

clean: ## Remove generated outputs (reports/, data/processed/, data/demo/); keeps .venv and data/raw/
	rm -rf $(REPORTS) data/processed data/demo
