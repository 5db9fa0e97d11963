"""Fixtures des doublures ninja et wanzo (issue 11), importées par tests/conftest.py.

Chaque fixture donne un StandinProcess (crispsandbox/standins/process.py) démarré : .url (base
de l'API), .token, .env() (variables de l'exportateur), .get(...) (GET sans suivre les
redirections), et l'administration : .truth(), .append(...), .create(...), .delete(...),
.stats(), .faults(...), .drift(...). Les usines prennent les options de la ligne de commande
(python -m crispsandbox --system ninja|wanzo --help).
"""

from __future__ import annotations

import pytest

from crispsandbox.standins.process import StandinProcess, start_standin

# Jeton de la fixture ninja : le jeton est facultatif chez ninja, la fixture en pose un pour
# que l'exportateur soit vérifié avec (ninja_sandbox_factory(token="") : sans jeton).
NINJA_TOKEN = "ninja-sandbox-token"


def _factory(system: str, **defaults: object):
    started: list[StandinProcess] = []

    def factory(**options: object) -> StandinProcess:
        standin = start_standin(system, **{**defaults, **options})
        started.append(standin)
        return standin

    return factory, started


@pytest.fixture
def ninja_sandbox_factory():
    """Démarre des doublures ninja à la demande ; toutes sont arrêtées à la fin du test."""
    factory, started = _factory("ninja", token=NINJA_TOKEN)
    yield factory
    for standin in started:
        standin.stop()


@pytest.fixture
def wanzo_sandbox_factory():
    """Démarre des doublures wanzo à la demande ; toutes sont arrêtées à la fin du test."""
    factory, started = _factory("wanzo")
    yield factory
    for standin in started:
        standin.stop()


@pytest.fixture
def ninja_sandbox(ninja_sandbox_factory):
    """Une petite doublure ninja (graine 1, 30 conversations, jeton) propre à chaque test."""
    return ninja_sandbox_factory(seed=1, conversations=30)


@pytest.fixture
def wanzo_sandbox(wanzo_sandbox_factory):
    """Une petite doublure wanzo (graine 1, 30 contextes) propre à chaque test."""
    return wanzo_sandbox_factory(seed=1, conversations=30)
