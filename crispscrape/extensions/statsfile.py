"""Écrit les statistiques finales du crawl dans un fichier JSON (réglage CRISP_STATS_FILE).

Utile aux scripts (cron, scrapyd, tests) qui veulent lire le bilan sans analyser le journal.
Désactivé par défaut. Les statistiques ne contiennent jamais d'identifiant.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crispscrape.storage.files import atomic_write_json


class StatsFile:
    """À la fermeture de l'araignée, enregistre les statistiques (dates en texte ISO)."""

    def __init__(self, path: str, stats):
        self.path = Path(path)
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("CRISP_STATS_FILE")
        if not path:
            raise NotConfigured
        extension = cls(path, crawler.stats)
        # Priorité basse : passe après CoreStats, qui pose finish_reason et finish_time.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason):
        stats = {key: value.isoformat() if hasattr(value, "isoformat") else value
                 for key, value in self.stats.get_stats().items()}
        stats.setdefault("finish_reason", reason)
        atomic_write_json(self.path, stats)
