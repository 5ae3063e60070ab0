# minidl: `make figures` (set up + the main job), `make test` (set up + every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup figures test test-fast benchmark clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

setup: $(BIN)/.installed

## The main job: execute every notebook headless, regenerating figures/ and the committed outputs.
figures: setup
	$(BIN)/python -m minidl.lab.reproduce

## Every test: the package (pytest), the notebooks (nbval) and the sliders in a real browser.
test: setup
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest tests -m "not browser" -p no:cacheprovider

benchmark: setup
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-benchmark.txt
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
