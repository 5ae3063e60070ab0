# minidl: `make figures` (set up + the main job), `make test` (set up + every test), `make help`.
PYTHON     ?= python3
MIN_PYTHON := 3.11
VENV       := .venv
BIN        := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help check-python setup figures test test-fast benchmark lab clean student grade site slides test-site

## help: list the targets (what a bare `make` does)
help:
	@echo "minidl: the targets (bare 'make' only prints this list; nothing was built):"
	@sed -n 's/^## \([a-z-]*\): /  make \1\t/p' $(MAKEFILE_LIST) | expand -t 22

## check-python: stop with a clear message if $(PYTHON) is older than the MIN_PYTHON the kit needs
check-python:
	@$(PYTHON) -c 'import sys; v = tuple(map(int, "$(MIN_PYTHON)".split("."))); sys.exit(0 if sys.version_info[:2] >= v else "error: minidl needs Python $(MIN_PYTHON) or newer; $(PYTHON) is Python %d.%d (%s). Run make with PYTHON=/path/to/python3.11 or newer." % (*sys.version_info[:2], sys.executable))'

$(BIN)/.installed: requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

## setup: create .venv/ with the pinned packages of requirements.txt (the other targets do it first)
setup: $(BIN)/.installed

## figures: the main job: execute every notebook headless, regenerating figures/ and the outputs
figures: setup
	$(BIN)/python -m minidl.lab.reproduce

## test: every test: the package (pytest), the notebooks (nbval), the sliders in Chromium
test: setup
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

## test-fast: the package's tests only (no notebooks, no browser, no site)
test-fast: setup
	$(BIN)/python -m pytest tests -m "not browser and not course and not notebooks and not site" -p no:cacheprovider

## benchmark: time minidl against torch.nn, scikit-learn and micrograd
benchmark: setup
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-benchmark.txt
	$(BIN)/python benchmarks/run.py

# The course site: its own venv (.venv-site/, requirements-site.txt) so .venv/ stays as light as before
SITE_VENV := .venv-site

$(SITE_VENV)/bin/.installed: requirements-site.txt
	@$(MAKE) --no-print-directory check-python
	$(PYTHON) -m venv $(SITE_VENV)
	$(SITE_VENV)/bin/pip install --disable-pip-version-check -q -r requirements-site.txt
	touch $@

## site: the course site in site/_build/html/ (README, notebooks with their committed outputs, docs; MathJax local), its build time and size
site: $(SITE_VENV)/bin/.installed
	$(SITE_VENV)/bin/python site/build.py --strict

# reveal.js for the slides, from the npm registry as site/package-lock.json pins it (site/node_modules/, git-ignored)
site/node_modules/.installed: site/package.json site/package-lock.json
	cd site && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## slides: reveal.js slides of the core path's notebooks in site/_build/slides/ (every asset local), their build time and size
slides: $(SITE_VENV)/bin/.installed site/node_modules/.installed
	$(SITE_VENV)/bin/python site/slides.py

## test-site: build the site and the slides, then their offline certificate (tests/test_site.py in headless Chromium, no request leaves the machine)
test-site: site slides setup
	$(BIN)/python -m pytest tests/test_site.py -m site -p no:cacheprovider

## lab: open the kit in JupyterLab (from .venv), at the notebooks
lab: setup
	$(BIN)/jupyter lab notebooks

# The student edition (course/, nbgrader; see "Teaching with minidl" in the README).
# nbgrader runs from course/ with the environment's bin/ first on PATH (it calls `alembic` by name).
NBGRADER := PATH="$(abspath $(BIN)):$$PATH" nbgrader

## student: the student edition: the assignments, built from the lab notebooks, into course/release/ (nbgrader), and the lab with its exercises blank in course/release/lab/
student: setup
	$(BIN)/python -m minidl.lab.course course
	cd course && $(NBGRADER) generate_assignment '*' --force
	@echo "Hand out course/release/: one folder per assignment, and lab/ (the notebooks, exercises to fill in)."

## grade: grade course/submitted/<student>/<assignment>/ (JOBS at a time, sandboxed): feedback, grades.csv, a table
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
grade: student
	cd course && PATH="$(abspath $(BIN)):$$PATH" $(abspath $(BIN))/python -m minidl.lab.regrade . --jobs $(JOBS)

## clean: remove .venv/, .venv-site/, the built site and the test caches
clean:
	rm -rf $(VENV) $(SITE_VENV) site/_build site/node_modules .pytest_cache .hypothesis
