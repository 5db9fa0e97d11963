"""Nombre d'appels minimaux, calculés sur la vérité du bac à sable (sans réseau).

Deux minimums sont calculés pour chaque conversation, à partir des lots exacts que
renverrait l'API (``Dataset.message_batch``, la fonction même que sert le bac à sable) :

- **minimum théorique** : ceil(messages / 40), 1 pour une conversation vide. Il suppose
  un client qui saurait d'avance où couper ; avec ``timestamp_before`` strict, il perd
  les messages de même milliseconde coupés par la limite d'un lot ;
- **minimum sans perte** : le nombre d'appels d'un client qui ne perd jamais rien.
  Un lot plein dont le plus ancien message date de t ne dit pas s'il reste d'autres
  messages de la milliseconde t : il faut redemander ``timestamp_before = t + 1``.
  Cette stratégie gloutonne est optimale : tout autre ``timestamp_before`` couvre
  moins de messages nouveaux (t ou moins : il perd la milliseconde t ; plus : il
  redemande des messages déjà reçus). Si un lot plein tient dans une seule
  milliseconde, aucun client ne peut avancer sans perte : on passe alors en strict,
  comme l'araignée.

Pour une réexécution (fichiers déjà complets), le client connaît les empreintes
stockées : il s'arrête dès qu'un lot en contient une, ou n'apporte rien de nouveau.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from crispsandbox.dataset import Dataset
from crispsandbox.defaults import MESSAGES_BATCH

BatchFunction = Callable[[int | None], tuple[list[dict], bool]]


@dataclass
class Minimums:
    """Minimums cumulés sur un ensemble de conversations."""

    conversations: int = 0
    messages: int = 0
    theoretical: int = 0
    lossfree: int = 0
    # Lots pleins d'une seule milliseconde (perte inévitable pour tout client).
    same_ms_overflows: int = 0
    largest: int = 0

    def add(self, other: "Minimums") -> None:
        self.conversations += other.conversations
        self.messages += other.messages
        self.theoretical += other.theoretical
        self.lossfree += other.lossfree
        self.same_ms_overflows += other.same_ms_overflows
        self.largest = max(self.largest, other.largest)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def lossfree_calls(batch_of: BatchFunction, stored: set[int] | None = None) -> tuple[int, int]:
    """Appels du client sans perte (voir le module) ; (appels, débordements même ms)."""
    before: int | None = None
    seen: set[int] = set()
    calls = overflows = 0
    while True:
        batch, more = batch_of(before)
        calls += 1
        if not more or len(batch) < MESSAGES_BATCH:
            return calls, overflows
        fingerprints = {m["fingerprint"] for m in batch}
        if stored is not None:
            # Fichier déjà complet : un message connu dans le lot, ou rien de nouveau,
            # et tout le reste, plus ancien, est déjà stocké.
            if fingerprints & stored or not fingerprints - stored - seen:
                return calls, overflows
        seen |= fingerprints
        oldest = min(m["timestamp"] for m in batch)
        following = oldest + 1
        if before is not None and following >= before:
            following = oldest
            overflows += 1
        before = following


def full_export_minimums(dataset: Dataset, session_ids: Iterable[str]) -> Minimums:
    """Minimums d'un export complet (aucun fichier au départ)."""
    total = Minimums()
    for session_id in session_ids:
        count = dataset.message_count(session_id)
        calls, overflows = lossfree_calls(
            lambda before, sid=session_id: dataset.message_batch(sid, before))
        total.add(Minimums(1, count, max(1, ceil_div(count, MESSAGES_BATCH)), calls,
                           overflows, count))
    return total


def incremental_minimums(dataset: Dataset, session_ids: Iterable[str],
                         stored: dict[str, set[int]]) -> Minimums:
    """Minimums d'une réexécution : ``stored`` = empreintes déjà exportées par conversation.

    Minimum théorique : voir les k messages nouveaux et un message connu, soit
    ceil((k + 1) / 40) appels (au plus ceil(n / 40), au moins 1).
    """
    total = Minimums()
    for session_id in session_ids:
        count = dataset.message_count(session_id)
        known = stored.get(session_id, set())
        fresh = count - len(known)
        theoretical = max(1, ceil_div(min(fresh + 1, count), MESSAGES_BATCH))
        calls, overflows = lossfree_calls(
            lambda before, sid=session_id: dataset.message_batch(sid, before), stored=known)
        total.add(Minimums(1, fresh, theoretical, calls, overflows, count))
    return total


def stored_fingerprints(dataset: Dataset, session_ids: Iterable[str]) -> dict[str, set[int]]:
    """Empreintes de chaque conversation à cet instant (ce qu'un export complet a écrit)."""
    return {sid: {m["fingerprint"] for m in dataset.messages(sid)} for sid in session_ids}
