# The README's two commands. Both set everything up first (envs/setup.sh is idempotent and quick when done).
#   make run   - the main job: the whole workflow on config/config.yaml (the bundled sample speaker)
#   make test  - the test suite (lint, unit, step, workflow and SLURM tests)
VENV  := .venv
CORES ?= all
SNAKEMAKE_ARGS ?=

.PHONY: setup run test lint clean

setup:
	@bash envs/setup.sh

REPORT := results/report.html

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)
	@# the HTML report, rebuilt only when a result is newer than it
	@if [ ! -f $(REPORT) ] || [ -n "$$(find results -type f -newer $(REPORT) | head -1)" ]; then \
		$(VENV)/bin/snakemake --report $(REPORT) $(SNAKEMAKE_ARGS); \
	else echo "$(REPORT) is up to date"; fi

lint: setup
	$(VENV)/bin/ruff check sdt models workflow_scripts tests benchmarks
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint --cores 1 >/dev/null

test: setup lint
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf results logs .snakemake
