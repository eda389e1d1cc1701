# Two commands for a newcomer on Debian/Ubuntu: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip -q -q --disable-pip-version-check

# `make run` is the local demo: the sandbox (local AWS) and a private Redis, with fake
# credentials and no profile, so nothing can reach a real account by accident. To use real AWS,
# run the processes yourself (README, "Running in production").
RUN_ENV := env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN \
	DJANGO_DEBUG=true SANDBOX_ENABLED=true REDIS_PORT=6399 REDIS_URL=redis://127.0.0.1:6399/0 \
	SANDBOX_PORT=4566 AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	AWS_ENVIRONMENT_NAME=sandbox

.PHONY: run test test-hosts hosts-deps bench bench-smoke screenshots lint format install install-dev system-deps browser-deps clean assets

# The sandbox's own requirements (moto, awslambdaric) come with `make run` and `make test`;
# production installs requirements.txt alone.
$(VENV)/.installed: requirements.txt requirements-sandbox.txt
	@test -x $(PY) || { echo "Creating the virtualenv in $(VENV)"; python3 -m venv $(VENV); }
	@echo "Installing Python packages, about a minute"
	@$(PIP) install -r requirements.txt -r requirements-sandbox.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	@echo "Installing the development packages"
	@$(PIP) install -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed system-deps
install-dev: $(VENV)/.installed-dev system-deps browser-deps

# Debian packages: installed with apt when missing and we are root; otherwise we say what to run.
define need_apt
	@missing=""; for cmd_pkg in $(1); do cmd=$${cmd_pkg%%:*}; pkg=$${cmd_pkg##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing with apt:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "Missing:$$missing. Install them with: sudo apt-get install -y$$missing"; exit 1; \
		fi; \
	fi
endef

system-deps:
	$(call need_apt,redis-server:redis-server)

browser-deps:
	$(call need_apt,chromium:chromium chromedriver:chromium-driver)

# The multi-host suite needs root (network namespaces), iproute2 and libfaketime (a worker host
# whose clock runs ahead). Not root: nothing is installed and the suite says it was skipped.
hosts-deps:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "Not root: the multi-host suite (tests/hosts/) will be skipped, and say so"; \
	else \
		missing=""; \
		command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
		command -v faketime >/dev/null 2>&1 || missing="$$missing faketime"; \
		command -v pg_ctlcluster >/dev/null 2>&1 || missing="$$missing postgresql"; \
		if [ -n "$$missing" ]; then \
			echo "Installing with apt:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	fi

# Ctrl-C stops every process (Redis last) and is a clean exit: dashboard/devrun.py gives honcho
# the terminal, so make never sees the signal.
run: install
	@echo "Preparing the database"
	@$(RUN_ENV) $(PY) manage.py migrate --no-input -v 0
	@$(RUN_ENV) $(PY) manage.py create_demo_user
	@echo "Starting Redis, the sandbox, the web server, a worker and beat (Ctrl-C stops them)"
	@$(RUN_ENV) $(PY) -m dashboard.devrun foreground $(VENV)/bin/honcho start -f Procfile

# The payload editor (CodeMirror) from npm, bundled into static/editor/. The bundle is
# committed, so only a change to assets/ or package.json needs this (and Node.js 20 + npm).
assets:
	npm ci --no-audit --no-fund
	npm run build

lint: install-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install-dev lint
	DJANGO_SETTINGS_MODULE=dashboard.settings_test $(PY) manage.py makemigrations --check --dry-run
	PY=$(PY) PYTEST=$(VENV)/bin/pytest bash tests/run_side_by_side.sh
	$(MAKE) --no-print-directory test-hosts

# Web, workers, data and AWS on separate hosts (network namespaces), broken by partitions and
# host kills: tests/hosts/. About 3 minutes; `make test-hosts SCALE=full` runs the full sizes
# (300 invocations, a 60 s cut, a 20,000-message flood).
SCALE ?= ci
test-hosts: install-dev hosts-deps
	HOSTS_SCALE=$(SCALE) PY=$(PY) bash tests/hosts/run.sh

# `make bench` runs them all, writes bench/results/latest.json and the README's table from it;
# `make bench BENCH="ingest pages"` runs some (bench/results/partial.json). A module that raises
# is named with its error and fails the run.
bench: install-dev
	$(PY) -m bench $(BENCH)

# Every benchmark module at a tiny scale (no figure judged): a change that breaks one fails
# `make test`, not the next `make bench`.
bench-smoke: install-dev
	$(PY) -m bench --smoke

# The README's screenshots, made from a real incident in the sandbox (tests/browser/test_screenshot_tour.py).
screenshots: install-dev
	SCREENSHOTS_DIR=docs/screenshots $(VENV)/bin/pytest tests/browser/test_screenshot_tour.py -q -p no:randomly

clean:
	rm -rf $(VENV) staticfiles db.sqlite3*
