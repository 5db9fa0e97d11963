"""La ligne de progression du direct (``scrapy crawl live``), toutes les CRISP_PROGRESS_SECONDS.

extensions/progress.py la prend pour l'export dont la clé de progression est ``live/events``
(voir ``OWN_LINES`` là-bas) ::

    Progression live : connecté ; 12 événements reçus, 10 appliqués, dernier il y a 3 s ;
    conversations : 4 réglées, 2 à régler ; appels aujourd'hui : 15/5000 (quota).

Tout vient des statistiques, lisibles aussi par JSON-RPC : ``live/connected``,
``live/down_since``, ``live/last_event_at`` (la connexion, rtm.py), ``live/events``
(journalisés), ``live/applied``, ``live/settled`` et ``live/unsettled`` (l'application des
événements) ; une statistique absente compte pour 0. Cette ligne en ajoute deux :
``live/calls_today`` (appels à l'API faits par ce processus depuis minuit UTC) et
``live/daily_quota`` (CRISP_DAILY_QUOTA, ou celui de la sorte de jeton).

Rien n'est dit tant que la connexion n'existe pas (``live/connected`` absent) : l'adresse
n'est pas encore reçue, ou le départ a été refusé (sa cause doit être la première ligne).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping

from crispscrape.config import daily_quota
from crispscrape.durations import duration
from crispscrape.live_status import connection_text, plural


class CallsToday:
    """Appels de ce processus depuis minuit UTC, d'après ``crisp_api/requests`` (compteur de
    tout le processus) : au changement de jour, le compteur du dernier relevé devient la base.
    Un relevé par ligne de progression : les appels faits entre ce relevé et minuit comptent
    pour le nouveau jour (mieux vaut surestimer face au quota)."""

    def __init__(self) -> None:
        self.day: datetime.date | None = None
        self.base = 0
        self.last = 0

    def count(self, total: int, now: float) -> int:
        day = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
        if self.day is not None and day != self.day:
            self.base = self.last
        self.day, self.last = day, total
        return total - self.base


def count_of(values: Mapping, key: str) -> int:
    """Une statistique comptée (absente ou None : 0)."""
    value = values.get(key)
    return int(value) if isinstance(value, (int, float)) else 0


def live_line(name: str, stats: Mapping, calls_today: int, quota: int, now: float) -> str:
    """La ligne de progression du direct, d'après ses statistiques."""
    since, last = stats.get("live/down_since"), stats.get("live/last_event_at")
    received, applied = count_of(stats, "live/events"), count_of(stats, "live/applied")
    events = (f"{plural(received, 'événement reçu', 'événements reçus')}, "
              f"{plural(applied, 'appliqué', 'appliqués')}")
    if isinstance(last, (int, float)):
        events += f", dernier il y a {duration(now - last)}"
    settled, unsettled = count_of(stats, "live/settled"), count_of(stats, "live/unsettled")
    parts = [
        connection_text(bool(stats.get("live/connected")),
                        since if isinstance(since, (int, float)) else None, now),
        events,
        f"conversations : {plural(settled, 'réglée', 'réglées')}, {unsettled} à régler",
        f"appels aujourd'hui : {calls_today}/{quota} (quota)",
    ]
    return f"Progression {name} : " + " ; ".join(parts) + "."


class LiveProgress:
    """Compose la ligne du direct à chaque relevé de extensions/progress.py."""

    def __init__(self, crawler):
        self.stats = crawler.stats
        self.quota = daily_quota(crawler.settings)
        self.calls = CallsToday()

    def line(self, name: str, now: float | None = None) -> str | None:
        values = self.stats.get_stats()
        if values.get("live/connected") is None:
            return None
        now = time.time() if now is None else now
        calls = self.calls.count(count_of(values, "crisp_api/requests"), now)
        self.stats.set_value("live/calls_today", calls)
        self.stats.set_value("live/daily_quota", self.quota)
        return live_line(name, values, calls, self.quota, now)
