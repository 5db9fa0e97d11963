# Deux commandes suffisent : « make demo » et « make test » (voir README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-data

.PHONY: demo test lint bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m crispsandbox.demo --data-dir $(DEMO_DIR)

# make test = vérifications statiques (ruff, mypy du cœur) puis toute la suite pytest : en
# 4 processus (pytest-xdist ; les tests attendent surtout leurs sous-processus et serveurs),
# sauf les mesures de débit (marqueur timing), lancées ensuite seules sur la machine.
# PYTHONDONTWRITEBYTECODE vidé : chaque `scrapy crawl` lancé par un test relit les modules
# compilés au lieu de recompiler tout crispscrape.
TEST_ENV = PYTHONDONTWRITEBYTECODE=
test: lint
	$(TEST_ENV) $(PY) -m pytest -q -n 4 -m "not timing"
	$(TEST_ENV) $(PY) -m pytest -q -m timing

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist *.egg-info .pytest_cache
