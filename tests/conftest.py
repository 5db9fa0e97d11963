"""Fixtures partagées : un bac à sable Crisp réel (sous-processus) et un répertoire de données.

Chaque test reçoit aussi le marqueur de son dossier (unit, e2e ou fire, voir tests/README.md).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.support.sandbox_process import start_sandbox
# Doublures ninja et wanzo (issue 11) : fixtures ninja_sandbox, wanzo_sandbox et leurs usines.
from tests.support.standins import (  # noqa: F401
    ninja_sandbox, ninja_sandbox_factory, wanzo_sandbox, wanzo_sandbox_factory,
)

TESTS_DIR = Path(__file__).resolve().parent
# Dossier de tests -> marqueur (déclarés dans pytest.ini).
KINDS = ("unit", "e2e", "fire")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Marque chaque test d'après son dossier, avant la sélection par « -m »."""
    outside = set()
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue  # test hors de tests/ (lancé à la main) : rien à marquer
        if folder in KINDS:
            item.add_marker(getattr(pytest.mark, folder))
        else:
            outside.add(folder)
    if outside:
        warnings.warn(pytest.PytestWarning(
            f"tests hors de tests/unit, tests/e2e et tests/fire, donc sans marqueur : "
            f"{', '.join(sorted(outside))} (voir tests/README.md)"), stacklevel=2)


@pytest.fixture
def sandbox_factory():
    """Démarre des bacs à sable à la demande ; tous sont arrêtés à la fin du test."""
    started = []

    def factory(**options):
        sandbox = start_sandbox(**options)
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(sandbox_factory):
    """Un petit bac à sable (graine 1, 30 conversations) propre à chaque test."""
    return sandbox_factory(seed=1, conversations=30)


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path
