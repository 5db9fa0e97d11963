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
import time

from crispscrape.oserrors import os_reason
from crispscrape.pipelines.base import StorePipeline
from crispscrape.signals import (
    live_applied, live_event, live_journaled, live_settled, live_uncovered, stop_export,
    traces_erased,
)
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
        self.flush_seconds = crawler.settings.getfloat("CRISP_MESSAGES_STATE_FLUSH", 1.0)
        self.forgotten: ForgetLog | None = None
        crawler.signals.connect(self.journal, signal=live_event)
        crawler.signals.connect(self.applied, signal=live_applied)
        crawler.signals.connect(self.settled, signal=live_settled)
        crawler.signals.connect(self.erased, signal=traces_erased)
        crawler.signals.connect(self.uncovered, signal=live_uncovered)
        # Début de la période que le flux n'a peut-être pas tout dite (None : aucune).
        self._uncovered: float | None = None

    def open_spider(self, spider=None):
        super().open_spider(spider)
        if self.store is not None:
            self.forgotten = ForgetLog(ExportLayout(self.store.directory.parent).forgotten)
            since = (self.store.connection or {}).get("uncovered_since")
            self._uncovered = float(since) if isinstance(since, (int, float)) else None

    def uncovered(self, since: float | None) -> None:
        """Signal live_uncovered : écrit tout de suite (un arrêt brutal ne le perd pas)."""
        self._uncovered = None if since is None else since if self._uncovered is None \
            else min(self._uncovered, since)
        if self.store is not None:
            self._save(self.store.save)

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
            seq = self.store.append(source, event, data)
        except OSError as exc:
            stop_export(self.crawler, "output_error", "Journal des événements impossible à "
                        f"écrire ({self.store.directory}) : {os_reason(exc)}. Arrêt du direct.")
            return "failed"
        self.stats.inc_value("live/events")
        self.stats.inc_value(f"live/events/{event}")
        # Journalisé : l'araignée peut l'appliquer (jamais avant).
        self.crawler.signals.send_catch_log(live_journaled, seq=seq, event=event, data=data)
        return "journaled"

    def applied(self, seq: int, unsettled: dict, profiles: dict | None = None) -> None:
        """Signal live_applied : l'événement appliqué, et ce qu'il laisse à relire ; l'état
        écrit au plus une fois par CRISP_MESSAGES_STATE_FLUSH secondes. Un arrêt brutal
        entre deux écritures fait rejouer les derniers événements, sans rien changer
        (l'application est idempotente) : deux fsync de moins par événement (banc du direct,
        disque chargé : la boucle asyncio ne doit pas attendre le disque)."""
        due = time.time() - (self.store.saved_at or 0) >= self.flush_seconds \
            if self.store is not None else False
        self._save(lambda now: self.store.mark_applied(seq, unsettled, now, profiles, due))

    def settled(self, started: float, session_id: str | None = None,
                people_id: str | None = None) -> None:
        key, profile = (people_id, True) if people_id is not None else (session_id, False)
        self._save(lambda now: self.store.settled(str(key), started, now, profile))
        self.stats.inc_value("live/settled_profiles" if profile else "live/settled")

    def erased(self, conversations: set[str], messages: set[tuple]) -> None:
        """Effacées des fichiers (le journal compris) : plus à relire."""
        if self.store is not None and conversations & self.store.unsettled.keys():
            for session_id in conversations:
                self.store.unsettled.pop(session_id, None)
            self._save(self.store.save)

    def _save(self, write, stopping: bool = False) -> None:
        if self.store is None:
            return
        now = time.time()
        connection = {"state": "stopped", "since": now} if stopping else self._connection()
        # Ce que la réconciliation n'a pas encore couvert (spiders/live_gap.py), avec le reste.
        self.store.connection = connection if self._uncovered is None \
            else {**connection, "uncovered_since": self._uncovered}
        try:
            write(now)
        except OSError as exc:
            stop_export(self.crawler, "output_error", "État du journal des événements impossible "
                        f"à écrire ({self.store.directory}) : {os_reason(exc)}. Arrêt du direct.")
            return
        self.stats.set_value("live/applied_seq", self.store.applied)
        self.stats.set_value("live/unsettled", len(self.store.unsettled))
        self.stats.set_value("live/unsettled_profiles", len(self.store.profiles))

    def close_spider(self, spider=None):
        if self.store is not None:
            # Fin propre : l'heure de l'arrêt date le début de la coupure (réconciliation).
            self._save(self.store.save, stopping=True)
        super().close_spider(spider)

    def _connection(self) -> dict:
        """L'état de la connexion, noté à chaque écriture pour ``scrapy status`` (statistiques
        de crispscrape/rtm.py ; l'araignée fait écrire l'état quand il change)."""
        if self.stats.get_value("live/connected"):
            return {"state": "connected", "since": self.stats.get_value("live/connected_since")}
        return {"state": "down", "since": self.stats.get_value("live/down_since")}
