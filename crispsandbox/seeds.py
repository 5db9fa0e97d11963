"""Graines et identités du bac à sable : générateurs dédiés, UUID, empreintes, squelettes.

Le socle de generator.py (personnes, conversations, profils) et de message_maker.py
(messages) : chaque objet tire ses valeurs d'un générateur qui lui est propre (graine
globale, nature, index), d'où des objets reconstruits isolément, à l'identique.
"""

from __future__ import annotations

import functools
import random
import uuid
from dataclasses import dataclass

# Empreintes : entiers de 15 à 16 chiffres, uniques, strictement sous 2**53.
# Bijection affine modulo un nombre premier P appliquée à u = (index << 16) | position :
# deux couples (conversation, position) distincts donnent toujours deux empreintes distinctes.
_FP_OFFSET = 10**14
_FP_PRIME = 8_907_199_254_740_977  # plus grand premier <= 2**53 - 10**14
_FP_FACTOR = 6_364_136_223_846_793 % _FP_PRIME
MAX_POSITIONS = 1 << 16  # nombre maximal de messages par conversation


def rng_for(seed: int, *parts: object) -> random.Random:
    """Générateur dédié à un objet ; une graine texte est hachée (SHA-512) par
    `random`, donc stable d'un processus à l'autre, contrairement à hash()."""
    return random.Random(":".join(str(part) for part in (seed, *parts)))


def uuid_from(rng: random.Random) -> str:
    """UUID v4 tiré du générateur (jamais de uuid4(), qui casserait le déterminisme)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def fingerprint(seed: int, index: int, position: int) -> int:
    """Empreinte unique du message `position` de la conversation `index`."""
    if not 0 <= position < MAX_POSITIONS:
        raise ValueError("position de message hors limites")
    offset = _fingerprint_offset(seed)
    unit = (index << 16) | position
    return _FP_OFFSET + (_FP_FACTOR * unit + offset) % _FP_PRIME


@functools.lru_cache(maxsize=16)
def _fingerprint_offset(seed: int) -> int:
    """Décalage propre à la graine, calculé une fois (appelé pour chaque message)."""
    return rng_for(seed, "fingerprint").randrange(_FP_PRIME)


@dataclass(frozen=True)
class Person:
    """Une personne du carnet « people » (avec ou sans fiche de profil)."""

    index: int
    email: str
    nickname: str
    people_id: str
    has_profile: bool


@dataclass(frozen=True)
class ConversationPlan:
    """Squelette d'une conversation : tout ce qu'il faut pour trier la liste et
    régénérer ses messages, sans stocker les messages eux-mêmes."""

    index: int
    session_id: str
    count: int  # nombre de messages générés (hors mutations)
    created_at: int
    last_ts: int  # horodatage du message le plus récent (created_at si vide)
    state: str
    trap: bool  # milliseconde partagée à cheval sur les frontières de lots
    showcase: bool  # les premiers messages passent par tous les types
    email: str | None  # tel qu'écrit dans meta.email (casse variable), None = absent
    nickname: str
    people_id: str
