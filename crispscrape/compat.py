"""Points de contact avec l'intérieur d'asyncio et de Scrapy, réunis en un seul endroit."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

# Tâches lancées sans attendre leur fin : asyncio ne garde qu'une référence faible ; sans
# celle-ci, une tâche pourrait disparaître avant d'avoir fini.
_TASKS: set[asyncio.Task] = set()


def spawn(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
    """Lance une tâche et la garde jusqu'à sa fin."""
    task = asyncio.ensure_future(coroutine)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


def stop_event_loop() -> None:
    """Arrête le réacteur Twisted (ou la boucle asyncio sans réacteur) à la prochaine occasion.

    ``scrapy crawl account`` démarre le processus Scrapy avec ``stop_after_crawl=False`` (ses
    crawls se suivent) : c'est à lui de l'arrêter quand la dernière étape est finie.
    """
    from twisted.internet import reactor

    def stop() -> None:
        try:
            reactor.stop()
        except Exception:  # noqa: BLE001 — déjà arrêté ou en cours d'arrêt (Ctrl-C)
            pass

    reactor.callLater(0, stop)
