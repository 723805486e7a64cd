# One-command entry points; each does its own set-up (see scripts/setup.sh).
.PHONY: demo test bench lint

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/setup.sh
	.venv/bin/python -m benchmarks

lint:
	bash scripts/setup.sh
	.venv/bin/ruff check backupcheck tests benchmarks
	.venv/bin/mypy
