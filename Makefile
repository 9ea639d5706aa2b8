# The two commands of the README: `make run` and `make test`. Each sets itself up on
# first use (system packages, uv, .venv from uv.lock) through scripts/bootstrap.sh.
# `make lock` re-resolves uv.lock after pyproject.toml changed (keeping every version it
# can); `make lock UPGRADE=name` also upgrades that package, `UPGRADE=all` everything.
.PHONY: run test bench lint lock clean

PORT ?=
UPGRADE ?=
UV = .tools/uv/bin/uv

run:
	@bash scripts/bootstrap.sh run
	.venv/bin/metrics-rpc dev $(if $(PORT),--port $(PORT))

test:
	@bash scripts/bootstrap.sh test
	.venv/bin/python -m pytest

bench:
	@bash scripts/bootstrap.sh bench
	.venv/bin/python -m bench.run_all

lint:
	@bash scripts/bootstrap.sh test
	.venv/bin/ruff check api tests bench && .venv/bin/mypy

lock:
	@bash scripts/bootstrap.sh uv
	$(UV) lock $(if $(filter all,$(UPGRADE)),--upgrade,$(if $(UPGRADE),--upgrade-package $(UPGRADE)))

clean:
	rm -rf .data .venv .tools .mypy_cache .ruff_cache .pytest_cache
