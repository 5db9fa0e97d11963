"""Compteurs des appels reçus sur l'API /v1, lus par les tests et les bancs d'essai."""

from __future__ import annotations

import time
from collections import Counter, deque

KINDS = ("messages", "conversations", "people", "other")
# Statut noté pour une connexion coupée sans réponse.
RESET_STATUS = "reset"
# Chronologie bornée : de quoi mesurer l'espacement des appels sans croître sans limite.
TIMELINE_LENGTH = 100_000


class CallStats:
    """Nombre d'appels par nature de route, par statut et par conversation."""

    def __init__(self, kinds: tuple[str, ...] = KINDS) -> None:
        self.kinds = kinds  # natures de route comptées dès zéro (celles de Crisp par défaut)
        self.reset()

    def reset(self) -> None:
        self.calls = 0
        self.by_kind: Counter[str] = Counter({kind: 0 for kind in self.kinds})
        self.by_status: Counter[str] = Counter()
        self.by_session: Counter[str] = Counter()
        self.origin = time.monotonic()
        self.timeline: deque[tuple[float, str]] = deque(maxlen=TIMELINE_LENGTH)

    def record_call(self, kind: str, session_id: str | None = None) -> None:
        """Compté dès l'arrivée : un appel encore en attente (latence) figure déjà."""
        self.calls += 1
        self.by_kind[kind] += 1
        if session_id is not None:
            self.by_session[session_id] += 1

    def record_status(self, status: int | str, arrival: float | None = None) -> None:
        """Statut de la réponse ; ``arrival`` (horloge monotone) date l'appel dans la chronologie."""
        self.by_status[str(status)] += 1
        if arrival is not None:
            self.timeline.append((round(arrival - self.origin, 4), str(status)))

    def calls_timeline(self) -> list[list]:
        """[[secondes depuis la remise à zéro, statut], ...] dans l'ordre des réponses."""
        return [list(entry) for entry in self.timeline]

    def snapshot(self) -> dict:
        return {
            "calls": self.calls,
            "by_kind": dict(self.by_kind),
            "by_status": dict(sorted(self.by_status.items())),
            "calls_by_session": dict(self.by_session),
        }
