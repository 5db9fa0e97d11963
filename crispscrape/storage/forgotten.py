"""Ce que ``scrapy forget`` a oublié : ``{DATA}/oublis.jsonl`` (docs/oubli.md), en empreintes
seulement, une ligne par valeur, AJOUTÉE (ligne complète + fsync) avant tout effacement ::

    {"kind": "email", "sha256": "…", "when": "2026-12-07T05:10:00+00:00"}

La valeur n'y est JAMAIS écrite : seulement le SHA-256 de sa forme normalisée (e-mail en
``casefold``, comme model.email_key). Ce qu'une demande désigne : crispscrape/forget/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crispscrape.model import EMAIL, KINDS, conversation_keys, normalise
from crispscrape.storage.files import append_lines, dumps_line
from crispscrape.storage.jsonl import read_records, utc_now

# EMAIL : importé d'ici par les pipelines (pipelines/live.py).
__all__ = ["EMAIL", "KINDS", "ForgetLog", "digest"]


def digest(kind: str, value: str) -> str:
    return hashlib.sha256(normalise(kind, value).encode("utf-8", "surrogatepass")).hexdigest()


class ForgetLog:
    """oublis.jsonl : ajout (la commande forget, sous le verrou du site) et lecture.

    Lu une seule fois, au premier usage : construisez-en un par crawl, pas un par objet."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._known: set[tuple[str, str]] | None = None

    def records(self) -> list[dict]:
        return [r for r in read_records(self.path, "Registre des oublis")
                if r.get("kind") in KINDS and isinstance(r.get("sha256"), str)]

    def _pairs(self) -> set[tuple[str, str]]:
        if self._known is None:
            self._known = {(r["kind"], r["sha256"]) for r in self.records()}
        return self._known

    def digests(self) -> set[str]:
        return {sha for _, sha in self._pairs()}

    def knows(self, kind: str, value: str) -> bool:
        return (kind, digest(kind, value)) in self._pairs()

    def append(self, kind: str, values: Iterable[str]) -> int:
        """Note ces valeurs ; une valeur déjà notée ne l'est pas deux fois. Rend le nombre de
        lignes ajoutées."""
        known = self._pairs()
        new = list(dict.fromkeys(digest(kind, value) for value in values))
        new = [sha for sha in new if (kind, sha) not in known]
        if not new:
            return 0
        when = utc_now()
        append_lines(self.path, [dumps_line({"kind": kind, "sha256": sha, "when": when}) for sha in new])
        known.update((kind, sha) for sha in new)
        return len(new)

    def matches(self, conversation: Any) -> bool:
        """Vrai si cette conversation (objet de la liste de Crisp) a été oubliée par son
        session_id, son people_id ou son e-mail. Le registre n'est lu qu'au premier appel."""
        known = self._pairs()
        return bool(known) and any((kind, digest(kind, value)) in known
                                   for kind, value in conversation_keys(conversation))
