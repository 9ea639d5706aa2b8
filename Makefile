# The two commands of the README: `make run` and `make test`. Each sets itself up on
# first use (system packages, .venv) through scripts/bootstrap.sh.
.PHONY: run test bench lint clean

run:
	@bash scripts/bootstrap.sh run
	.venv/bin/metrics-rpc dev

test:
	@bash scripts/bootstrap.sh test
	.venv/bin/python -m pytest

bench:
	@bash scripts/bootstrap.sh bench
	.venv/bin/python -m bench.run_all

lint:
	@bash scripts/bootstrap.sh test
	.venv/bin/ruff check api tests bench && .venv/bin/mypy

clean:
	rm -rf .data .venv .mypy_cache .ruff_cache .pytest_cache
