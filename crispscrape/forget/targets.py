"""Ce qu'une demande d'oubli désigne (e-mails, people_id, session_id), et quels objets de
l'export (conversation, profil) en sont."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crispscrape.model import EMAIL, PEOPLE, SESSION, conversation_keys, normalise, profile_keys


@dataclass
class Targets:
    """Les valeurs demandées, sous forme normalisée."""

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
