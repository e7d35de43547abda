# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tall, thin matrices and several processes on few cores: BLAS threads only contend.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: demo test test-fast lab bench bench-quick clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name fedcost --display-name "fedcost (.venv)" >/dev/null
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fedcost demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -q -m 'not slow'

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# Every bench of BENCHMARKS.md, at its full size (about an hour on 2 cores); `make bench-quick` in minutes.
BENCH_FLAGS ?=
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_FLAGS)
	$(PY) bench/fit_vs_pooled.py $(BENCH_FLAGS)
	$(PY) bench/memory.py $(BENCH_FLAGS)
	$(PY) bench/simulation.py $(BENCH_FLAGS)
	$(PY) bench/latency_vs_hospitals.py $(BENCH_FLAGS)
	$(PY) bench/rounds.py $(BENCH_FLAGS)
	$(PY) bench/demo_steps.py $(BENCH_FLAGS)

bench-quick:
	$(MAKE) bench BENCH_FLAGS=--quick

clean:
	rm -rf build reports/output .pytest_cache demo_output
