"""Le registre des suppressions : ``{DATA}/suppressions.jsonl``.

Une ligne par objet supprimé chez Crisp (ou oublié) : ``kind`` (conversation…), ``id``,
``when`` (ISO 8601, UTC), ``evidence`` (l'appel qui a répondu 404), ``policy`` (``erase`` ou
``keep``). Un identifiant n'est pas une donnée personnelle, un e-mail si : jamais d'e-mail
ici. Chaque ligne est AJOUTÉE (ligne complète + fsync) dès que la suppression est prouvée,
AVANT tout effacement : après un arrêt brutal, l'exécution suivante retrouve ce qui reste à
effacer (``pending``) et ne redemande plus rien de ces objets (``removed``).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from crispscrape.storage.files import append_lines, dumps_line
from crispscrape.storage.jsonl import read_lines

POLICIES = ("erase", "keep")
CONVERSATION = "conversation"
# Un message : identifiant « {session_id}:{clé du message} ».
MESSAGE = "message"
# Un profil : son people_id (jamais son e-mail).
PROFILE = "profile"


def removal_kind(source_name: str) -> str:
    """La sorte d'une conversation dans le registre : « conversation » pour Crisp, préfixée
    du système pour les autres (« ninja_conversation »), comme les objets mis de côté."""
    return CONVERSATION if source_name == "crisp" else f"{source_name}_{CONVERSATION}"


class SuppressionLog:
    """Lecture (tout lecteur) et ajout (l'extension des suppressions seule) du registre."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def records(self) -> list[dict]:
        """Les lignes lisibles du registre (une ligne abîmée est ignorée : elle ne dit rien)."""
        if not self.path.is_file():
            return []
        return [line.obj for line in read_lines(self.path, "Registre des suppressions")
                if isinstance(line.obj, dict) and isinstance(line.obj.get("id"), str)]

    def removed(self, kind: str = CONVERSATION) -> set[str]:
        """Identifiants supprimés de cette sorte : plus aucun appel pour eux."""
        return {r["id"] for r in self.records() if r.get("kind") == kind}

    def pending(self, kind: str = CONVERSATION) -> set[str]:
        """Identifiants à effacer des fichiers (politique ``erase``) : l'effacement est
        idempotent, il est refait tant qu'il reste une trace."""
        return {r["id"] for r in self.records()
                if r.get("kind") == kind and r.get("policy") == "erase"}

    def append(self, kind: str, ids: list[str], evidence: str, policy: str) -> None:
        when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        append_lines(self.path, [dumps_line({"kind": kind, "id": object_id, "when": when,
                                             "evidence": evidence.replace("{id}", object_id),
                                             "policy": policy})
                                 for object_id in ids])
