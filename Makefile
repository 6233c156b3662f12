# Two commands set up a fresh machine: `make demo` and `make test`. Both create the
# virtualenv in .venv from the exact pins in requirements.lock on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-benchmarks test-spark lint ui dashboard bench lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	# Compiled bytecode: uv leaves it to the first import, and where PYTHONDONTWRITEBYTECODE
	# is set (as on this project's development machines) every process would compile
	# Dagster, dbt and GX from source again, about 3 s of CPU per `llm-usage` or `dbt` process.
	$(BIN)/uv pip install --quiet --compile-bytecode -p $(BIN)/python -r requirements.lock -e .
	$(BIN)/python -m compileall -q alerts cli config ingest orchestration quality readers sample_data tools
	# dbt's manifest, which the Dagster definitions read (importing them never runs dbt;
	# building them re-parses only when the dbt project changed since).
	$(BIN)/python -m orchestration.dbt_assets
	touch $@

demo: setup
	$(BIN)/llm-usage demo

# The suite's scratch folders (each test's data directory, warehouse and Dagster home) in
# memory where the machine has /dev/shm: every build commits its tables and Dagster's
# events with fsync, and on disk that cost a suite module about a sixth more time
# (docs/benchmarks.md, "Test suite"). A TMPDIR already set is kept.
TEST_TMPDIR := $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo /tmp)

test: setup
	TMPDIR=$${TMPDIR:-$(TEST_TMPDIR)} $(BIN)/pytest

# The benchmark scripts at a tiny scale, so that they keep working (timings are not
# checked; docs/benchmarks.md). Apart from `make test`: they are the suite's longest
# end-to-end runs and test the tools, not the product. CI runs both.
test-benchmarks: setup
	TMPDIR=$${TMPDIR:-$(TEST_TMPDIR)} $(BIN)/pytest -m benchmark_script

# The pipeline on a local Spark session, compared with the DuckDB build (docs/scaling.md).
# Needs Java 17 or 21 (Debian: apt-get install default-jre-headless); adds the spark extra.
# One process (-n 0): a Spark session per worker would not fit beside the other.
test-spark: setup
	$(BIN)/uv pip install --quiet --compile-bytecode -p $(BIN)/python -r requirements.lock -r requirements-spark.lock -e '.[spark]'
	TMPDIR=$${TMPDIR:-$(TEST_TMPDIR)} $(BIN)/pytest -n 0 -m spark tests/test_spark.py

# Python with ruff, the dbt project's SQL with sqlfluff (its dbt templater compiles each
# model offline against a scratch DuckDB file). .ci/run runs this before the tests.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	LLM_USAGE_WAREHOUSE=$$(mktemp -d)/lint.duckdb $(BIN)/sqlfluff lint dbt_project/models dbt_project/tests

ui: setup
	$(BIN)/llm-usage ui

# The Usage Analytics page on http://127.0.0.1:8501 (DASHBOARD_ARGS="--port 8600").
dashboard: setup
	$(BIN)/llm-usage dashboard $(DASHBOARD_ARGS)

# The pipeline benchmark at full scale (1,000,000 requests a day; takes many minutes).
# Pass options with BENCH_ARGS="--requests-per-day 50000"; see docs/benchmarks.md.
bench: setup
	$(BIN)/python benchmarks/pipeline.py $(BENCH_ARGS)

# Re-resolve the pins after changing dependencies in pyproject.toml.
lock:
	$(BIN)/uv pip compile -p 3.11 pyproject.toml --extra dev -o requirements.lock --no-header --no-annotate
	$(BIN)/uv pip compile -p 3.11 pyproject.toml --extra dev --extra spark -c requirements.lock --no-header --no-annotate \
		| grep -vxFf requirements.lock > requirements-spark.lock

clean:
	rm -rf $(VENV) data dbt_project/target dbt_project/logs
