"""Réglages de lancement d'une doublure (ninja ou wanzo) et format des dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..faults import FaultOptions

SYSTEMS = ("ninja", "wanzo")
# Chemin de base de l'API de chaque système, tel que l'exportateur le reçoit.
API_PATHS = {"ninja": "/api", "wanzo": "/portfolio/api/v1"}
# Jeton de wanzo par défaut (obligatoire chez wanzo ; jamais un vrai secret).
DEFAULT_WANZO_TOKEN = "wanzo-sandbox-token"
LIST_ORDERS = ("hash", "shuffle")


@dataclass(frozen=True)
class StandinConfig:
    """Paramètres de lancement d'une doublure (ligne de commande)."""

    system: str
    seed: int = 1
    conversations: int = 30
    token: str | None = None  # None ou "" : ninja sans authentification (wanzo : jeton par défaut)
    max_messages: int = 30  # conversations ordinaires : de 1 à max_messages messages
    empty_ratio: float = 0.1  # part de conversations vides
    long_ratio: float = 0.05  # part de longues conversations (plusieurs pages)
    long_messages: int = 250  # taille d'une longue conversation
    hostile_ids: bool = False  # ajoute « ../evil », « a/b » et un identifiant de 300 caractères
    id_ratio: float = 0.0  # ninja : part des conversations listées avec « id » au lieu de « uuid »
    no_updated_ratio: float = 0.0  # ninja : part des conversations listées sans « updated »
    list_order: str = "hash"  # ninja : hash (change avec les données) ou shuffle (à chaque appel)
    drift_every: int = 0  # wanzo : toutes les K listes, des contextes reçoivent un message (0 = jamais)
    drift_contexts: int = 1  # wanzo : combien de contextes bougent à chaque dérive
    faults: FaultOptions = field(default_factory=FaultOptions)

    @property
    def api_path(self) -> str:
        return API_PATHS[self.system]

    @property
    def effective_token(self) -> str | None:
        """Jeton exigé, None si aucun (ninja seulement : wanzo en exige toujours un)."""
        if self.token:
            return self.token
        return DEFAULT_WANZO_TOKEN if self.system == "wanzo" else None


def iso(ms: int) -> str:
    """Millisecondes -> ISO 8601 en UTC avec millisecondes et « Z » (2025-03-08T17:21:49.677Z)."""
    moment = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
