"""Fixtures partagées : un bac à sable Crisp réel (sous-processus) et un répertoire de données."""

from __future__ import annotations

import pytest

from tests.support.sandbox_process import start_sandbox


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
