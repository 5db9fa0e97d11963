"""Ce que ``scrapy forget`` a oublié : ``{DATA}/oublis.jsonl``, en empreintes seulement.

Une ligne par valeur oubliée, AJOUTÉE (ligne complète + fsync) avant tout effacement ::

    {"kind": "email", "sha256": "…", "when": "2026-12-07T05:10:00+00:00"}

``kind`` : ``email``, ``people`` (people_id d'un profil) ou ``session`` (session_id). La
valeur elle-même n'y est JAMAIS écrite : seulement le SHA-256 (hexadécimal) de sa forme
normalisée — e-mail sans espaces autour et en minuscules (``casefold``, comme la clé du
fichier des utilisateurs, model.email_key), identifiant sans espaces autour.

Lecteurs : la commande (ce qui est déjà oublié) et le pipeline des conversations
(``ForgetLog.matches`` : une conversation oubliée que Crisp liste encore n'est pas réécrite).
``Targets`` : ce qu'une demande désigne (e-mails, people_id, session_id), et quels objets
de l'export (conversation, profil) en sont.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispscrape.model import profile_of, session_id_of, unwrap
from crispscrape.storage.files import append_lines, dumps_line
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import REPORT_NAME, ExportLayout

EMAIL, PEOPLE, SESSION = "email", "people", "session"
KINDS = (EMAIL, PEOPLE, SESSION)


def normalise(kind: str, value: str) -> str:
    """Forme comparée et hachée : sans espaces autour ; un e-mail, en plus, en minuscules."""
    if kind not in KINDS:
        raise ValueError(f"Sorte inconnue : {kind!r} (attendu : {', '.join(KINDS)}).")
    text = value.strip()
    return text.casefold() if kind == EMAIL else text


def digest(kind: str, value: str) -> str:
    """SHA-256 (hexadécimal) de la valeur normalisée : ce que garde oublis.jsonl."""
    return hashlib.sha256(normalise(kind, value).encode("utf-8", "surrogatepass")).hexdigest()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def conversation_keys(conversation: Any) -> list[tuple[str, str]]:
    """(sorte, valeur brute) par lesquelles une conversation peut avoir été oubliée."""
    conversation = unwrap(conversation)
    if not isinstance(conversation, dict):
        return []
    meta = conversation.get("meta")
    email = _text(meta.get("email")) if isinstance(meta, dict) else None
    keys = [(SESSION, session_id_of(conversation)), (PEOPLE, _text(conversation.get("people_id"))),
            (EMAIL, email)]
    return [(kind, value) for kind, value in keys if value is not None]


def profile_keys(profile: Any) -> list[tuple[str, str]]:
    """(sorte, valeur brute) d'un profil : son people_id et son e-mail."""
    profile = profile_of(profile)
    if not isinstance(profile, dict):
        return []
    keys = [(PEOPLE, _text(profile.get("people_id"))), (EMAIL, _text(profile.get("email")))]
    return [(kind, value) for kind, value in keys if value is not None]


def analysis_outdated(layout: ExportLayout) -> bool:
    """Vrai si ``analyse/`` existe et n'a pas été reconstruite depuis le dernier oubli ou la
    dernière suppression notés (arrêt brutal pendant sa reconstruction, ou échec) : elle peut
    garder ce qui a été effacé. Le rapport HTML est écrit en dernier par ``scrapy report``."""
    if not layout.analysis_dir.is_dir():
        return False
    try:
        built = os.stat(layout.analysis_dir / REPORT_NAME).st_mtime_ns
    except OSError:
        return True
    noted = [os.stat(path).st_mtime_ns for path in (layout.forgotten, layout.suppressions)
             if path.is_file()]
    return bool(noted) and built <= max(noted)


class ForgetLog:
    """oublis.jsonl : ajout (la commande forget, sous le verrou du site) et lecture.

    Lu une seule fois, au premier usage : construisez-en un par crawl, pas un par objet."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._known: set[tuple[str, str]] | None = None

    def records(self) -> list[dict]:
        """Les lignes lisibles (une ligne abîmée, reste d'un arrêt brutal, est ignorée)."""
        if not os.path.isfile(self.path):  # nom trop long, accès refusé : « absent »
            return []
        return [line.obj for line in read_lines(self.path, "Registre des oublis")
                if isinstance(line.obj, dict) and line.obj.get("kind") in KINDS
                and isinstance(line.obj.get("sha256"), str)]

    def _pairs(self) -> set[tuple[str, str]]:
        if self._known is None:
            self._known = {(r["kind"], r["sha256"]) for r in self.records()}
        return self._known

    def digests(self) -> set[str]:
        """Les empreintes notées, toutes sortes confondues."""
        return {sha for _, sha in self._pairs()}

    def knows(self, kind: str, value: str) -> bool:
        return (kind, digest(kind, value)) in self._pairs()

    def append(self, kind: str, values: Iterable[str]) -> int:
        """Note ces valeurs (empreintes seulement) ; une valeur déjà notée ne l'est pas deux
        fois. Rend le nombre de lignes ajoutées."""
        known = self._pairs()
        new = list(dict.fromkeys(digest(kind, value) for value in values))
        new = [sha for sha in new if (kind, sha) not in known]
        if not new:
            return 0
        when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        lines = [dumps_line({"kind": kind, "sha256": sha, "when": when}) for sha in new]
        append_lines(self.path, lines)
        known.update((kind, sha) for sha in new)
        return len(new)

    def matches(self, conversation: Any) -> bool:
        """Vrai si cette conversation (objet de la liste de Crisp) a été oubliée : son
        session_id, son people_id ou son e-mail (normalisé) est dans le registre. Aucune
        écriture ; le registre n'est lu qu'au premier appel."""
        known = self._pairs()
        return bool(known) and any((kind, digest(kind, value)) in known
                                   for kind, value in conversation_keys(conversation))


@dataclass
class Targets:
    """Ce qu'une demande d'oubli désigne, sous forme normalisée."""

    emails: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)

    def _sets(self) -> dict[str, set[str]]:
        return {EMAIL: self.emails, PEOPLE: self.people, SESSION: self.sessions}

    def add(self, kind: str, value: str) -> bool:
        """Ajoute une valeur ; faux si elle y était déjà."""
        values, key = self._sets()[kind], normalise(kind, value)
        if key in values:
            return False
        values.add(key)
        return True

    def _hits(self, keys: list[tuple[str, str]]) -> bool:
        sets = self._sets()
        return any(normalise(kind, value) in sets[kind] for kind, value in keys)

    def conversation_matches(self, conversation: Any) -> bool:
        return self._hits(conversation_keys(conversation))

    def person_matches_conversation(self, conversation: Any) -> bool:
        """Par la personne seule (e-mail, people_id), sans les session_id donnés."""
        return self._hits([k for k in conversation_keys(conversation) if k[0] != SESSION])

    def profile_matches(self, profile: Any) -> bool:
        return self._hits(profile_keys(profile))

    def mentioned_in(self, text: str) -> bool:
        """Vrai si une ligne illisible (JSON tronqué) nomme l'une de ces valeurs."""
        folded = text.casefold()
        return any(email in folded for email in self.emails) \
            or any(value in text for value in self.people | self.sessions)

    def pairs(self) -> list[tuple[str, str]]:
        return [(kind, value) for kind, values in self._sets().items()
                for value in sorted(values)]
