"""Mutations du jeu de données du bac à sable : messages ajoutés ou modifiés, conversations
nouvelles (dérive de pagination).

Elles vivent dans une surcouche de ``Dataset`` (dataset.py), dont cette classe est la partie
« écriture » : le jeu de base n'est jamais modifié, seuls les caches touchés sont oubliés.
"""

from __future__ import annotations

import copy
from typing import Any

from .generator import make_plan
from .message_maker import make_message
from .seeds import MAX_POSITIONS, rng_for

# Limite d'un ajout de messages par l'API d'administration.
MAX_ADDED_PER_CALL = 10_000


class DatasetMutations:
    """Méthodes de mutation de ``Dataset`` (elles s'appuient sur ses caches et squelettes)."""

    # Attributs et méthodes fournis par Dataset.
    seed: int
    website_id: str
    media_base: str
    _order: Any
    _logs: Any
    _extra_messages: dict
    _edits: dict
    _activity: dict
    _by_session: dict
    _clock: int

    def _forget(self, session_id: str | None = None) -> None:
        """Invalide les caches touchés par une mutation."""
        self._order = None
        if session_id is not None:
            self._logs.pop(session_id, None)

    def add_messages(
        self, session_id: str, count: int, *, same_ms: bool = False, timestamp: int | None = None,
    ) -> list[dict]:
        """Ajoute des messages à une conversation et renvoie leurs copies.

        Sans `timestamp`, ils sont plus récents que tout ce qui existe (une seconde
        d'écart, ou la même milliseconde si same_ms) ; avec, ils démarrent à cet
        horodatage (+1 ms chacun, ou tous dessus si same_ms) et peuvent donc
        s'intercaler dans l'historique.
        """
        plan = self._plan(session_id)
        if not 1 <= count <= MAX_ADDED_PER_CALL:
            raise ValueError(f"count doit être compris entre 1 et {MAX_ADDED_PER_CALL}")
        extras = self._extra_messages.setdefault(session_id, [])
        first_position = plan.count + len(extras)
        if first_position + count > MAX_POSITIONS:
            raise ValueError("trop de messages dans cette conversation")
        if timestamp is None:
            stamp, step = self._clock + 1000, 0 if same_ms else 1000
        else:
            stamp, step = int(timestamp), 0 if same_ms else 1
        added = []
        for offset in range(count):
            added.append(make_message(self.seed, plan, self.website_id, first_position + offset,
                                      stamp + offset * step, self.media_base))
        extras.extend(added)
        newest = max(message["timestamp"] for message in added)
        self._clock = max(self._clock, newest)
        self._activity[session_id] = max(self._last_activity(plan), newest)
        self._forget(session_id)
        return copy.deepcopy(added)

    def edit_message(self, session_id: str, fingerprint: int, content: object) -> dict:
        """Modifie le contenu d'un message (même empreinte, edited vrai) ; KeyError si absent."""
        messages = self._log(session_id)[0]
        if not any(message["fingerprint"] == fingerprint for message in messages):
            raise KeyError(fingerprint)
        self._edits.setdefault(session_id, {})[fingerprint] = copy.deepcopy(content)
        self._forget(session_id)
        return next(message for message in self.messages(session_id) if message["fingerprint"] == fingerprint)

    def add_conversations(self, count: int) -> list[dict]:
        """Crée des conversations actives à l'instant simulé : elles passent en tête
        de liste et décalent les pages (dérive de pagination)."""
        if not 1 <= count <= MAX_ADDED_PER_CALL:
            raise ValueError(f"count doit être compris entre 1 et {MAX_ADDED_PER_CALL}")
        plans = self._all_plans()
        created = []
        for _ in range(count):
            index = len(plans)
            rng = rng_for(self.seed, "timing", index)
            size = rng.randint(1, 5)
            created_at = self._clock + 1000
            last_ts = created_at + rng.randint(size * 1000, size * 60_000)
            plan = make_plan(
                self.seed, index, count=size, created_at=created_at, last_ts=last_ts,
                trap=False, showcase=False, person=self._person_for(rng, index),
            )
            self._clock = last_ts
            plans.append(plan)
            self._by_session[plan.session_id] = plan
            created.append(plan)
        self._forget()
        return [self._conversation(plan) for plan in created]
