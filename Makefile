# README's two commands, each doing its own set-up on a fresh machine:
#   make run    serve on 127.0.0.1:8000 (embedded Postgres unless DATABASE_URL is set)
#   make test   the whole test suite
VENV := .venv
PYTHON := $(VENV)/bin/python
# Debian packages driven as real processes: PgBouncer (scale-out test), wrk (load harness),
# chromium (the API page, tried in a real browser).
SYSTEM_TOOLS := pgbouncer wrk chromium

# Installs take the exact versions, with hashes, locked in requirements/ (`make lock`
# refreshes them from pyproject.toml), then the project itself without its dependencies.
LOCKED := $(VENV)/bin/pip install -q --require-hashes --no-deps -r
PROJECT := $(VENV)/bin/pip install -q --no-deps -e .

.PHONY: run test system-tools lock

run: $(VENV)/.runtime
	$(PYTHON) -m service

test: $(VENV)/.test system-tools
	$(PYTHON) -m pytest

$(VENV)/.runtime: requirements/run.txt
	python3 -m venv $(VENV)
	$(LOCKED) requirements/run.txt
	$(PROJECT)
	touch $@

$(VENV)/.test: requirements/test.txt
	python3 -m venv $(VENV)
	$(LOCKED) requirements/test.txt
	$(PROJECT)
	touch $@ $(VENV)/.runtime

# The three locks: the image's (no embedded Postgres), make run's, make test's. pip-tools
# runs from a venv of its own, so it never lands in the locked ones.
lock:
	python3 -m venv .venv-lock
	.venv-lock/bin/pip install -q pip-tools
	for lock in image:"" run:"--extra embedded" test:"--extra test"; do \
		.venv-lock/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe \
			--no-emit-index-url --no-emit-find-links $${lock#*:} \
			-o requirements/$${lock%%:*}.txt pyproject.toml || exit 1; \
	done

# Installs what is missing with apt-get when run as root; otherwise says what to install.
system-tools:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "please install:$$missing (Debian packages)"; exit 1; \
		fi; \
	fi
