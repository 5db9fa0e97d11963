"""État d'un bac à sable en marche : configuration, données, pannes, compteurs.

Rangé dans l'application aiohttp (clé SANDBOX) plutôt que dans des variables
globales, pour que plusieurs instances puissent coexister.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from aiohttp import web

from .dataset import Dataset
from .defaults import (
    DEFAULT_CONVERSATIONS, DEFAULT_IDENTIFIER, DEFAULT_KEY, DEFAULT_SEED, DEFAULT_WEBSITE_ID,
)
from .envelope import CrispError
from .faults import FaultOptions, FaultState
from .stats import CallStats


@dataclass(frozen=True)
class SandboxConfig:
    """Paramètres de lancement (ligne de commande)."""

    seed: int = DEFAULT_SEED
    conversations: int = DEFAULT_CONVERSATIONS
    identifier: str = DEFAULT_IDENTIFIER
    key: str = DEFAULT_KEY
    website_id: str = DEFAULT_WEBSITE_ID
    faults: FaultOptions = field(default_factory=FaultOptions)
    # Base des URL de fichiers (None : ce serveur, sous un autre nom d'hôte ; voir media.py).
    media_url: str | None = None
    # Durée d'envoi d'un fichier « lent ».
    media_slow_seconds: float = 2.0


class Sandbox:
    """État d'un bac à sable en marche."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.dataset = Dataset(config.seed, config.conversations, config.website_id)
        self.faults = FaultState(config.faults, config.seed)
        self.stats = CallStats()

    def check_access(self, headers) -> None:
        """Jeton « plugin » : identifiants Basic puis en-tête X-Crisp-Tier."""
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        try:
            credentials = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            credentials = None
        if scheme.lower() != "basic" or credentials != f"{self.config.identifier}:{self.config.key}":
            raise CrispError("unauthorized", "Identifiants du jeton invalides.", "authentication")
        if headers.get("X-Crisp-Tier", "").lower() != "plugin":
            raise CrispError("restricted_route_tier", "Route réservée au niveau « plugin » (en-tête X-Crisp-Tier).", "authentication")


SANDBOX = web.AppKey("sandbox", Sandbox)
