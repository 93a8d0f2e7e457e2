# README's two commands, each doing its own set-up on a fresh machine:
#   make run    serve on 127.0.0.1:8000 (embedded Postgres unless DATABASE_URL is set)
#   make test   the whole test suite
VENV := .venv
PYTHON := $(VENV)/bin/python
# Debian packages driven as real processes: PgBouncer (scale-out test), wrk (load harness),
# chromium (the API page, tried in a real browser).
SYSTEM_TOOLS := pgbouncer wrk chromium

.PHONY: run test system-tools

run: $(VENV)/.runtime
	$(PYTHON) -m service

test: $(VENV)/.test system-tools
	$(PYTHON) -m pytest

$(VENV)/.runtime: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@ $(VENV)/.runtime

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
