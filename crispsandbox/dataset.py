"""Jeu de données du bac à sable : vérité de référence et mutations.

Le jeu de base est entièrement déterminé par (graine, nombre de conversations,
website_id) : deux instances identiques produisent les mêmes octets. Rien n'est
généré d'avance : une conversation n'est construite que lorsqu'on la demande, et
seuls ses squelettes (ConversationPlan, quelques entiers) sont gardés pour trier
la liste. Les mutations (messages ajoutés, modifiés ou supprimés, conversations
nouvelles ou supprimées, profils modifiés ou supprimés) vivent dans une surcouche, le jeu de base
n'est jamais modifié.

Utilisable directement depuis les tests :

    >>> data = Dataset(seed=1, conversations=50)
    >>> conversation = data.conversations()[0]
    >>> messages = data.messages(conversation["session_id"])
"""

from __future__ import annotations

import bisect
import copy
from collections import OrderedDict
from datetime import datetime, timezone

from . import vocab
from .defaults import (
    DEFAULT_CONVERSATIONS, DEFAULT_MEDIA_BASE, DEFAULT_SEED, DEFAULT_WEBSITE_ID, END_MS, HISTORY_MS,
    MESSAGES_BATCH, MUTATION_START_MS,
)
from .generator import make_conversation, make_person, make_plan, make_profile, message_timestamps
from .message_maker import make_message
from .mutations import DatasetMutations
from .seeds import ConversationPlan, Person, rng_for

# Nombres de messages toujours présents dès 8 conversations : conversation vide,
# message unique, lot exact, lot + 1, deux lots, et une longue conversation.
SPECIAL_COUNTS = (0, 1, 40, 41, 80, 350)
MIN_CONVERSATIONS_FOR_SPECIALS = 8
# Ces conversations-là portent le piège de la milliseconde partagée.
TRAP_COUNTS = (41, 80, 350)
# Combien de conversations garder en cache (messages triés) ; le reste est régénéré.
MESSAGE_CACHE_SIZE = 256
# Date de création simulée du site, avant toute conversation.
WEBSITE_CREATED_MS = END_MS - HISTORY_MS - 60 * 24 * 3600 * 1000


def _sort_key(message: dict) -> tuple[int, int]:
    """Ordre Crisp d'une conversation : horodatage puis empreinte."""
    return message["timestamp"], message["fingerprint"]


def _parse_iso(value: str) -> int:
    """Date ISO 8601 -> millisecondes ; une date sans fuseau est lue en UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


class Dataset(DatasetMutations):
    """Conversations, messages et profils d'un site Crisp simulé."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        conversations: int = DEFAULT_CONVERSATIONS,
        website_id: str = DEFAULT_WEBSITE_ID,
        media_base: str = DEFAULT_MEDIA_BASE,
    ) -> None:
        if conversations < 0:
            raise ValueError("le nombre de conversations doit être positif ou nul")
        self.seed = seed
        self.website_id = website_id
        # Base des URL de fichiers des messages (le serveur y met la sienne avant tout appel).
        self.media_base = media_base
        self.base_size = conversations
        self._person_count = max(len(vocab.SPECIAL_EMAILS) + 1, conversations * 2 // 3)
        self._layout = self._special_layout()
        # Caches reconstruits à la demande (tout est déterministe, donc jetable).
        self._plans: list[ConversationPlan] | None = None
        # Squelettes de _plans par session, sauf ceux des conversations supprimées (qui
        # gardent leur place dans _plans : leur index n'est jamais réattribué).
        self._by_session: dict[str, ConversationPlan] = {}
        self._order: list[ConversationPlan] | None = None
        self._logs: OrderedDict[str, tuple[list[dict], list[int]]] = OrderedDict()
        self._profile_index: tuple[dict[str, Person], dict[str, Person]] | None = None
        # Surcouche des mutations.
        self._extra_messages: dict[str, list[dict]] = {}
        self._edits: dict[str, dict[int, object]] = {}
        self._activity: dict[str, int] = {}
        self._removed: dict[str, set[int]] = {}  # empreintes supprimées, par session
        self._deleted_people: set[str] = set()  # people_id des fiches supprimées
        self._edited_people: dict[str, dict] = {}  # people_id -> fiche modifiée (complète)
        self._clock = MUTATION_START_MS - 1000

    # ------------------------------------------------------------------ squelettes

    def _special_layout(self) -> dict[int, int]:
        """Place les nombres de messages remarquables sur des index tirés de la graine."""
        if self.base_size < MIN_CONVERSATIONS_FOR_SPECIALS:
            return {}
        positions = rng_for(self.seed, "layout").sample(range(self.base_size), len(SPECIAL_COUNTS))
        return dict(zip(positions, SPECIAL_COUNTS, strict=False))

    def _person_for(self, rng, index: int) -> Person | None:
        """Personne d'une conversation : les adresses remarquables servent deux fois
        chacune (adresses partagées), 15 % des autres conversations n'ont pas d'e-mail."""
        if self.base_size >= MIN_CONVERSATIONS_FOR_SPECIALS and index < 2 * len(vocab.SPECIAL_EMAILS):
            return make_person(self.seed, index % len(vocab.SPECIAL_EMAILS))
        if rng.random() < 0.15:
            return None
        return make_person(self.seed, rng.randrange(self._person_count))

    def _base_plan(self, index: int) -> ConversationPlan:
        rng = rng_for(self.seed, "timing", index)
        special = self._layout.get(index)
        if special is not None:
            count = special
        else:
            roll = rng.random()
            count = 0 if roll < 0.04 else rng.randint(31, 120) if roll < 0.10 else rng.randint(1, 30)
        last_ts = END_MS - rng.randint(1, HISTORY_MS)
        created_at = last_ts - rng.randint(2_000, 600_000) * max(count, 1)
        if count == 0:
            last_ts = created_at
        trap = special in TRAP_COUNTS or (special is None and count > MESSAGES_BATCH and rng.random() < 0.5)
        return make_plan(
            self.seed, index, count=count, created_at=created_at, last_ts=last_ts,
            trap=trap, showcase=special == max(SPECIAL_COUNTS), person=self._person_for(rng, index),
        )

    def _all_plans(self) -> list[ConversationPlan]:
        if self._plans is None:
            self._plans = [self._base_plan(index) for index in range(self.base_size)]
            self._by_session.update((plan.session_id, plan) for plan in self._plans)
        return self._plans

    def _plan(self, session_id: str) -> ConversationPlan:
        """Squelette d'une conversation ; KeyError si la session est inconnue."""
        self._all_plans()
        return self._by_session[session_id]

    def _last_activity(self, plan: ConversationPlan) -> int:
        return self._activity.get(plan.session_id, plan.last_ts)

    def _message_total(self, plan: ConversationPlan) -> int:
        return (plan.count + len(self._extra_messages.get(plan.session_id, ()))
                - len(self._removed.get(plan.session_id, ())))

    def _ordered(self) -> list[ConversationPlan]:
        """Conversations de la plus récemment active à la plus ancienne (égalité : session_id)."""
        if self._order is None:
            self._all_plans()  # remplit _by_session, sans les conversations supprimées
            self._order = sorted(self._by_session.values(), key=lambda plan: (-self._last_activity(plan), plan.session_id))
        return self._order

    # ------------------------------------------------------------------ messages

    def _log(self, session_id: str) -> tuple[list[dict], list[int]]:
        """Messages triés (et leurs horodatages) d'une conversation, mis en cache.

        Les objets renvoyés sont partagés avec le cache : ne pas les modifier.
        """
        cached = self._logs.get(session_id)
        if cached is not None:
            self._logs.move_to_end(session_id)
            return cached
        plan = self._plan(session_id)
        messages = [
            make_message(self.seed, plan, self.website_id, position, timestamp, self.media_base)
            for position, timestamp in enumerate(message_timestamps(self.seed, plan))
        ]
        messages.extend(self._extra_messages.get(session_id, ()))
        removed = self._removed.get(session_id, set())
        edits = self._edits.get(session_id, {})
        messages = [
            {**message, "content": edits[message["fingerprint"]], "edited": True}
            if message["fingerprint"] in edits else message
            for message in messages if message["fingerprint"] not in removed
        ]
        messages.sort(key=_sort_key)
        entry = (messages, [message["timestamp"] for message in messages])
        self._logs[session_id] = entry
        if len(self._logs) > MESSAGE_CACHE_SIZE:
            self._logs.popitem(last=False)
        return entry

    def messages(self, session_id: str) -> list[dict]:
        """Tous les messages d'une conversation, du plus ancien au plus récent (copie)."""
        return copy.deepcopy(self._log(session_id)[0])

    def message_count(self, session_id: str) -> int:
        return self._message_total(self._plan(session_id))

    def message_batch(self, session_id: str, before: int | None) -> tuple[list[dict], bool]:
        """Lot renvoyé par l'API : les 40 derniers messages d'horodatage < before
        (strict), du plus ancien au plus récent, et s'il en reste de plus anciens.

        Les messages sont partagés avec le cache : ne pas les modifier.
        """
        messages, stamps = self._log(session_id)
        end = len(stamps) if before is None else bisect.bisect_left(stamps, before)
        start = max(0, end - MESSAGES_BATCH)
        return messages[start:end], start > 0

    # ------------------------------------------------------------------ conversations

    def _newest_message(self, plan: ConversationPlan) -> dict | None:
        """Message le plus récent ; sans mutation, seul le dernier est généré."""
        if any(plan.session_id in overlay for overlay in (self._extra_messages, self._edits, self._removed)):
            messages = self._log(plan.session_id)[0]
            return messages[-1] if messages else None
        if plan.count == 0:
            return None
        return make_message(self.seed, plan, self.website_id, plan.count - 1, plan.last_ts, self.media_base)

    def _conversation(self, plan: ConversationPlan) -> dict:
        return make_conversation(
            self.seed, plan, self.website_id, self._newest_message(plan), self._last_activity(plan),
        )

    def conversation(self, session_id: str) -> dict:
        """Objet conversation tel que l'API le renvoie ; KeyError si inconnue."""
        return self._conversation(self._plan(session_id))

    def session_ids(self) -> list[str]:
        """Identifiants de session, dans l'ordre de la liste (plus récent d'abord)."""
        return [plan.session_id for plan in self._ordered()]

    def conversations(self, include_empty: bool = True) -> list[dict]:
        """Toutes les conversations, plus récemment actives d'abord."""
        return [
            self._conversation(plan) for plan in self._ordered()
            if include_empty or self._message_total(plan) > 0
        ]

    def conversation_page(
        self,
        page: int,
        per_page: int,
        *,
        include_empty: bool = False,
        resolved: bool | None = None,
        date_start: str | None = None,
        date_end: str | None = None,
        order_created: bool = False,
    ) -> list[dict]:
        """Une page de la liste, filtres documentés appliqués avant la pagination.

        Les dates ISO 8601 portent sur updated_at (ValueError si illisibles).
        """
        start_ms = _parse_iso(date_start) if date_start else None
        end_ms = _parse_iso(date_end) if date_end else None
        plans = [
            plan for plan in self._ordered()
            if (include_empty or self._message_total(plan) > 0)
            and (resolved is None or (plan.state == "resolved") == resolved)
            and (start_ms is None or self._last_activity(plan) >= start_ms)
            and (end_ms is None or self._last_activity(plan) <= end_ms)
        ]
        if order_created:
            plans.sort(key=lambda plan: (-plan.created_at, plan.session_id))
        first = (page - 1) * per_page
        return [self._conversation(plan) for plan in plans[first:first + per_page]]

    # ------------------------------------------------------------------ profils

    def _profiles(self) -> tuple[dict[str, Person], dict[str, Person]]:
        """Index des personnes ayant une fiche (non supprimée) : par people_id et par e-mail en minuscules."""
        if self._profile_index is None:
            by_id: dict[str, Person] = {}
            by_email: dict[str, Person] = {}
            for index in range(self._person_count):
                person = make_person(self.seed, index)
                if person.has_profile and person.people_id not in self._deleted_people:
                    by_id[person.people_id] = person
                    by_email[person.email.lower()] = person
            self._profile_index = (by_id, by_email)
        return self._profile_index

    def profile(self, people_id: str) -> dict | None:
        """Fiche d'une personne par UUID ou par e-mail (casse ignorée), None sinon."""
        by_id, by_email = self._profiles()
        person = by_id.get(people_id) or by_email.get(people_id.lower())
        return self._edited_profile(make_profile(self.seed, person, WEBSITE_CREATED_MS)) if person else None

    def profiles(self) -> list[dict]:
        """Toutes les fiches (modifications comprises), dans l'ordre des personnes."""
        return [self._edited_profile(make_profile(self.seed, person, WEBSITE_CREATED_MS))
                for person in self._profiles()[0].values()]
