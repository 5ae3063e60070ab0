# minidl: `make figures` (set up + the main job), `make test` (set up + every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup figures test test-fast benchmark clean student grade

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
	$(BIN)/python -m pytest tests -m "not browser and not course" -p no:cacheprovider

benchmark: setup
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-benchmark.txt
	$(BIN)/python benchmarks/run.py

## The student edition (course/, nbgrader; see "Teaching with minidl" in the README).
## nbgrader runs from course/ with the environment's bin/ first on PATH (it calls `alembic` by name).
NBGRADER := PATH="$(abspath $(BIN)):$$PATH" nbgrader
ASSIGNMENTS = $(notdir $(wildcard course/source/*))

## Every assignment's student version, from course/source/ into course/release/.
student: setup
	cd course && $(NBGRADER) generate_assignment '*' --force
	@echo "Hand out course/release/: one folder per assignment."

## Grade everything under course/submitted/<student>/<assignment>/: autograde, feedback HTML in
## course/feedback/, course/grades.csv, and a table of students by assignment.
grade: student
	cd course && $(NBGRADER) autograde '*' --force
	cd course && $(NBGRADER) generate_feedback '*' --force
	cd course && $(NBGRADER) export --to grades.csv
	$(BIN)/python -m minidl.lab.grading course/grades.csv course/submitted

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
