"""Le registre des suppressions : ``{DATA}/suppressions.jsonl`` (champs : docs/suppressions.md).

Une ligne par objet supprimé chez Crisp (ou oublié), jamais d'e-mail (un identifiant n'est pas
une donnée personnelle, un e-mail si). Chaque ligne est AJOUTÉE (ligne complète + fsync) dès
que la suppression est prouvée, AVANT tout effacement : après un arrêt brutal, l'exécution
suivante retrouve ce qui reste à effacer (``pending``) et ne redemande plus rien (``removed``).
"""

from __future__ import annotations

from pathlib import Path

from crispscrape.storage.files import append_lines, dumps_line
from crispscrape.storage.jsonl import read_records, utc_now

CONVERSATION = "conversation"
# Un message : identifiant « {session_id}:{clé du message} ».
MESSAGE = "message"
# Un profil : son people_id (jamais son e-mail).
PROFILE = "profile"
# Politique d'une ligne qui lève une suppression : Crisp montre de nouveau l'objet.
RESTORED = "restored"


def removal_kind(source_name: str) -> str:
    """La sorte d'une conversation dans le registre : « conversation » pour Crisp, préfixée
    du système pour les autres (« ninja_conversation »), comme les objets mis de côté."""
    return CONVERSATION if source_name == "crisp" else f"{source_name}_{CONVERSATION}"


def message_keys(ids: set[str]) -> set[tuple[str, object]]:
    """Les identifiants de messages du registre (« {session_id}:{clé} ») en couples (session, clé)."""
    keys: set[tuple[str, object]] = set()
    for value in ids:
        session_id, _, key = value.rpartition(":")
        if session_id:
            keys.add((session_id, int(key) if key.isdigit() else key))
    return keys


class SuppressionLog:
    """Lecture (tout lecteur) et ajout (l'extension des suppressions seule) du registre."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def records(self) -> list[dict]:
        return [r for r in read_records(self.path, "Registre des suppressions") if isinstance(r.get("id"), str)]

    def _latest(self, kind: str) -> dict[str, str]:
        """Identifiant -> politique de sa DERNIÈRE ligne (``restored`` : Crisp l'a montré de
        nouveau, la suppression ne tient plus)."""
        return {r["id"]: str(r.get("policy")) for r in self.records() if r.get("kind") == kind}

    def removed(self, kind: str = CONVERSATION) -> set[str]:
        """Identifiants supprimés de cette sorte : plus aucun appel pour eux."""
        return {i for i, policy in self._latest(kind).items() if policy != RESTORED}

    def pending(self, kind: str = CONVERSATION) -> set[str]:
        """Identifiants à effacer des fichiers (politique ``erase``) : l'effacement est
        idempotent, il est refait tant qu'il reste une trace."""
        return {i for i, policy in self._latest(kind).items() if policy == "erase"}

    def append(self, kind: str, ids: list[str], evidence: str, policy: str) -> None:
        when = utc_now()
        append_lines(self.path, [dumps_line({"kind": kind, "id": object_id, "when": when,
                                             "evidence": evidence.replace("{id}", object_id),
                                             "policy": policy})
                                 for object_id in ids])
