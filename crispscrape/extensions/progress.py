"""Progression en direct : une ligne au plus toutes les CRISP_PROGRESS_SECONDS secondes.

Chaque export dit ce qu'il compte (``progress_key``, ``progress_unit``) et, quand il le sait,
combien il en a à faire (``progress_total()``, d'après l'état des fichiers). L'extension en
tire le débit et une fin estimée, les journalise en français et les range dans les
statistiques, lisibles en direct par JSON-RPC :

- ``progress/done``, ``progress/total`` (absent si inconnu), ``progress/unit`` ;
- ``progress/rate_per_second`` (depuis le départ), ``progress/eta_seconds`` (absent si inconnu).

Un export peut avoir sa propre ligne (``OWN_LINES``, d'après sa clé de progression) : le
direct dit sa connexion, ses événements et ses appels du jour (extensions/live_progress.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crispscrape.compat import spawn
from crispscrape.console import console_extra
from crispscrape.context import export_context
from crispscrape.durations import duration
from crispscrape.extensions.live_progress import LiveProgress

logger = logging.getLogger(__name__)

# Clé de progression -> classe qui compose la ligne de cet export (``line(nom)`` : la ligne,
# ou None s'il n'y a rien à dire encore), créée au premier relevé.
OWN_LINES = {"live/events": LiveProgress}


class Progress:
    def __init__(self, crawler, interval: float):
        self.crawler = crawler
        self.stats = crawler.stats
        self.interval = interval
        self.started = 0.0
        self._task: asyncio.Task | None = None
        self._own: LiveProgress | None = None

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("CRISP_PROGRESS_SECONDS", 5.0)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider=None):
        self.started = time.monotonic()
        self._task = spawn(self._loop())

    def spider_closed(self, spider=None, reason=None):
        if self._task is not None:
            self._task.cancel()
        self.update()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            line = self.update()
            if line:
                # Une ligne de progression s'affiche aussi en mode console (console.py).
                logger.info("%s", line, extra=console_extra())

    def update(self) -> str | None:
        """Met les statistiques à jour ; rend la ligne à journaliser (None si rien à dire)."""
        context = export_context(self.crawler)
        key = context.progress_key if context is not None else None
        if context is None or key is None or context.refused:
            return None
        unit = context.progress_unit
        done = self.stats.get_value(key, 0)
        total = context.progress_expected
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        self.stats.set_value("progress/done", done)
        self.stats.set_value("progress/unit", unit)
        self.stats.set_value("progress/rate_per_second", round(rate, 3))
        if key in OWN_LINES:
            if self._own is None:
                self._own = OWN_LINES[key](self.crawler)
            return self._own.line(context.name)
        text = f"Progression {context.name} : {done}"
        if total is not None:
            total = max(total, done)
            self.stats.set_value("progress/total", total)
            text += f"/{total} {unit} ({100 * done / total if total else 100:.0f} %)"
            if rate > 0:
                eta = (total - done) / rate
                self.stats.set_value("progress/eta_seconds", round(eta))
                text += f", {rate:.1f}/s, fin estimée dans {duration(eta)}"
        else:
            text += f" {unit}, {rate:.1f}/s"
        # Rien de fait encore : pas de « 0/s » avant la première réponse (ni avant la cause
        # d'un départ refusé, qui doit être la première ligne affichée).
        return text + "." if done else None
