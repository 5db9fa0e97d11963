"""Le journal des événements en direct : écrit AVANT toute application (issue 22).

Ce pipeline possède le journal (storage/journal.py), comme les autres pipelines leurs
magasins : ouvert quand l'araignée ``live`` s'ouvre (après le verrou du site), fermé (et
élagué) à la fin. Aucun item ne le traverse : les événements arrivent par le signal
``live_event``, envoyé par l'araignée depuis les rappels de la connexion, un par un et tout
de suite (jamais en lot quand le moteur est inoccupé).

Ce que « scrapy forget » a oublié (oublis.jsonl) n'est jamais journalisé : l'événement est
compté (``forget/skipped``) et jeté. Statistiques : ``live/events`` (journalisés),
``live/events/<nom>``, ``live/ignored`` (événements qu'on ne sait pas appliquer).
"""

from __future__ import annotations

import logging

from crispscrape.oserrors import os_reason
from crispscrape.pipelines.base import StorePipeline
from crispscrape.signals import live_event, stop_export
from crispscrape.storage.forgotten import EMAIL, ForgetLog
from crispscrape.storage.journal import EventJournal
from crispscrape.storage.layout import ExportLayout

logger = logging.getLogger(__name__)

# Événements que le direct sait appliquer (les autres sont comptés, pas journalisés).
KNOWN_EVENTS = frozenset({
    "message:send", "message:received", "message:updated", "message:removed",
    "session:removed", "session:set_state", "session:set_block", "session:set_segments",
    "session:set_data", "session:set_nickname", "session:set_email", "session:set_opened",
    "session:set_closed", "people:profile:created", "people:profile:updated",
    "people:profile:removed",
})


class LiveJournalPipeline(StorePipeline):
    @staticmethod
    def make_store(crawler, context) -> EventJournal:
        layout = ExportLayout(context.config.data_dir)
        return EventJournal(layout.journal_dir,
                            crawler.settings.getfloat("CRISP_LIVE_JOURNAL_DAYS", 30.0))

    def __init__(self, crawler):
        super().__init__(crawler)
        self.forgotten: ForgetLog | None = None
        crawler.signals.connect(self.journal, signal=live_event)

    def open_spider(self, spider=None):
        super().open_spider(spider)
        if self.store is not None:
            self.forgotten = ForgetLog(ExportLayout(self.store.directory.parent).forgotten)

    def journal(self, source: str, event: str, data) -> str:
        """Signal live_event : l'événement dans le journal (fsync), ou compté et jeté.

        Rend ``journaled``, ``dropped`` (inconnu, oublié) ou ``failed`` : un web hook n'est
        acquitté (200) qu'une fois journalisé, pour que Crisp le renvoie si nous tombons."""
        if self.store is None:
            return "failed"
        if event not in KNOWN_EVENTS or not isinstance(data, dict):
            self.stats.inc_value("live/ignored")
            return "dropped"
        email = data.get("email")
        if self.forgotten is not None and (self.forgotten.matches(data) or isinstance(email, str)
                                           and self.forgotten.knows(EMAIL, email)):
            self.stats.inc_value("forget/skipped")
            return "dropped"
        try:
            self.store.append(source, event, data)
        except OSError as exc:
            stop_export(self.crawler, "output_error", "Journal des événements impossible à "
                        f"écrire ({self.store.directory}) : {os_reason(exc)}. Arrêt du direct.")
            return "failed"
        self.stats.inc_value("live/events")
        self.stats.inc_value(f"live/events/{event}")
        return "journaled"
