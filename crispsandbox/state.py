"""État d'un bac à sable en marche : configuration, données, pannes, compteurs.

Rangé dans l'application aiohttp (clé SANDBOX) plutôt que dans des variables
globales, pour que plusieurs instances puissent coexister.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from .dataset import Dataset
from .defaults import (
    DEFAULT_CONVERSATIONS, DEFAULT_IDENTIFIER, DEFAULT_KEY, DEFAULT_SEED, DEFAULT_TIER, TIERS,
    DEFAULT_WEBSITE_ID,
)
from .envelope import CrispError
from .faults import FaultOptions, FaultState
from .rtm import RtmHub
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
    # Sites servis par le même jeton (le premier est website_id) : chacun ses données.
    websites: int = 1
    # Niveau du jeton attendu (en-tête X-Crisp-Tier) : « plugin » ou « website » (voir TIERS).
    tier: str = DEFAULT_TIER

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"niveau de jeton inconnu : « {self.tier} » (attendu : {' ou '.join(TIERS)})")


def website_ids(config: SandboxConfig) -> list[str]:
    """Identifiants des sites servis : website_id, puis des UUID tirés de la graine."""
    extra = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"crispsandbox/{config.seed}/{index}"))
             for index in range(1, config.websites)]
    return [config.website_id, *extra]


class Sandbox:
    """État d'un bac à sable en marche."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.dataset = Dataset(config.seed, config.conversations, config.website_id)
        # Un jeu de données par site ; les sites en plus ont leur propre graine (seed + rang).
        self.datasets = {config.website_id: self.dataset}
        for index, website_id in enumerate(website_ids(config)[1:], start=1):
            self.datasets[website_id] = Dataset(config.seed + index, config.conversations,
                                                website_id)
        self.faults = FaultState(config.faults, config.seed)
        self.stats = CallStats()
        # Temps réel (API RTM) : serveur Socket.IO, branché sur l'application par server.py.
        self.rtm = RtmHub(config, self.datasets)

    def dataset_for(self, website_id: str) -> Dataset:
        """Données d'un site servi ; not_subscribed (404) pour tout autre site."""
        dataset = self.datasets.get(website_id)
        if dataset is None:
            raise CrispError("not_subscribed", "Le plugin n'est pas installé sur ce site.", "website")
        return dataset

    def check_access(self, headers) -> None:
        """Identifiants Basic, puis en-tête X-Crisp-Tier : seul le niveau de lancement est admis.

        Hypothèse sur le comportement de Crisp (non documenté) : un jeton est cherché parmi les
        jetons de son niveau. Les bons identifiants présentés avec l'AUTRE niveau valide
        n'existent donc pas à ce niveau-là : 401 unauthorized, comme des identifiants faux.
        Un en-tête absent ou inconnu garde le refus 403 restricted_route_tier.
        """
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        try:
            credentials = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            credentials = None
        if scheme.lower() != "basic" or credentials != f"{self.config.identifier}:{self.config.key}":
            raise CrispError("unauthorized", "Identifiants du jeton invalides.", "authentication")
        tier = headers.get("X-Crisp-Tier", "").lower()
        if tier not in TIERS:
            raise CrispError("restricted_route_tier", "Niveau de jeton absent ou inconnu (en-tête "
                             "X-Crisp-Tier : « plugin » ou « website »).", "authentication")
        if tier != self.config.tier:
            raise CrispError("unauthorized", "Identifiants du jeton invalides.", "authentication")

SANDBOX = web.AppKey("sandbox", Sandbox)
