"""Mutations du jeu de données du bac à sable : messages ajoutés, modifiés ou supprimés,
conversations nouvelles (dérive de pagination) ou supprimées, profils modifiés ou supprimés.

Elles vivent dans une surcouche de ``Dataset`` (dataset.py), dont cette classe est la partie
« écriture » : le jeu de base n'est jamais modifié, seuls les caches touchés sont oubliés.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .generator import make_plan
from .message_maker import make_message
from .seeds import MAX_POSITIONS, ConversationPlan, Person, rng_for

# Limite d'un ajout de messages par l'API d'administration.
MAX_ADDED_PER_CALL = 10_000
# Champs d'une fiche que edit_profile refuse de changer (ils l'identifient).
FIXED_PROFILE_FIELDS = ("people_id", "email")


def _merge(base: dict, changes: dict) -> dict:
    """Fusion des champs d'une fiche : un objet se fusionne dans l'objet qu'il remplace,
    toute autre valeur (listes comprises) remplace l'ancienne."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


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
    _removed: dict
    _deleted_people: set
    _edited_people: dict
    _profile_index: Any
    _by_session: dict
    _clock: int

    if TYPE_CHECKING:  # pour la vérification des types seulement : Dataset les définit
        def _plan(self, session_id: str) -> ConversationPlan: ...
        def _all_plans(self) -> list[ConversationPlan]: ...
        def _last_activity(self, plan: ConversationPlan) -> int: ...
        def _log(self, session_id: str) -> tuple[list[dict], list[int]]: ...
        def _person_for(self, rng: Any, index: int) -> Person | None: ...
        def _conversation(self, plan: ConversationPlan) -> dict: ...
        def messages(self, session_id: str) -> list[dict]: ...
        def profile(self, people_id: str) -> dict | None: ...

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

    def delete_conversation(self, session_id: str) -> dict:
        """Supprime une conversation et ses messages ; renvoie l'objet tel qu'il était.

        KeyError si elle est inconnue. Sa fiche (profil) reste. Les conversations suivantes
        remontent d'un rang dans la liste, comme sur le vrai service.
        """
        deleted = self._conversation(self._plan(session_id))
        # Le squelette reste dans _plans : un index n'est jamais réattribué (add_conversations).
        del self._by_session[session_id]
        for overlay in (self._extra_messages, self._edits, self._activity, self._removed):
            overlay.pop(session_id, None)
        self._forget(session_id)
        return deleted

    def delete_message(self, session_id: str, fingerprint: int) -> dict:
        """Supprime un message ; renvoie sa copie telle qu'elle était. KeyError si absent.

        La dernière activité de la conversation ne bouge pas (hypothèse : Crisp ne la fait
        pas reculer) ; son aperçu passe au message le plus récent qui reste.
        """
        message = next((message for message in self._log(session_id)[0] if message["fingerprint"] == fingerprint), None)
        if message is None:
            raise KeyError(fingerprint)
        deleted = copy.deepcopy(message)
        self._removed.setdefault(session_id, set()).add(fingerprint)
        self._forget(session_id)
        return deleted

    def delete_profile(self, people_id: str) -> dict:
        """Supprime la fiche d'une personne (par people_id) ; renvoie la fiche telle qu'elle
        était. KeyError si elle est inconnue. Ses conversations restent."""
        deleted = self.profile(people_id)
        if deleted is None or deleted["people_id"] != people_id:  # inconnue, ou un e-mail
            raise KeyError(people_id)
        self._deleted_people.add(people_id)
        self._edited_people.pop(people_id, None)
        self._profile_index = None  # index reconstruit sans elle
        return deleted

    def edit_profile(self, people_id: str, changes: dict) -> dict:
        """Modifie la fiche d'une personne (par people_id) ; renvoie la fiche modifiée.

        Les objets se fusionnent (``{"person": {"nickname": …}}`` garde les autres champs de
        ``person``), le reste remplace ; ``updated_at`` passe à l'instant simulé (qui avance
        d'une seconde). KeyError si la fiche est inconnue ; ValueError si ``changes`` change
        ``people_id`` ou ``email`` (les redonner à l'identique est permis).
        """
        current = self.profile(people_id)
        if current is None or current["people_id"] != people_id:  # inconnue, ou un e-mail
            raise KeyError(people_id)
        for name in FIXED_PROFILE_FIELDS:
            if name in changes and changes[name] != current[name]:
                raise ValueError(f"{name} ne peut pas être modifié")
        self._clock += 1000
        edited = {**_merge(current, changes), "updated_at": self._clock}
        self._edited_people[people_id] = edited
        return copy.deepcopy(edited)

    def _edited_profile(self, profile: dict) -> dict:
        """Fiche générée, ou sa version modifiée par edit_profile (copie)."""
        edited = self._edited_people.get(profile["people_id"])
        return profile if edited is None else copy.deepcopy(edited)
