"""Lecture des réponses de l'API Crisp : l'enveloppe {"error", "reason", "data"}, en un seul endroit."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

from scrapy.exceptions import IgnoreRequest

# Codes qui demandent de ralentir (429 standard, 420 « Enhance Your Calm » chez Crisp).
THROTTLE_STATUSES = frozenset({420, 429})
# Quota quotidien épuisé : attendre ne sert à rien, il faut s'arrêter proprement.
QUOTA_STATUS = 423


class InvalidResponse(Exception):
    """Réponse inexploitable (corps tronqué, non JSON, enveloppe d'erreur, type inattendu).

    Souvent passagère : la requête est réessayée avant d'abandonner la ressource.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class QuotaExceeded(IgnoreRequest):
    """Quota atteint (423 ou plafond d'attente) : la requête est abandonnée, le crawl se ferme."""


def _json_body(response) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        raise InvalidResponse("invalid_json",
                              "corps de réponse illisible (JSON invalide ou tronqué)") from None


def parse_envelope(response, expected_type: type | tuple[type, ...] | None = None) -> Any:
    """Renvoie ``data`` d'une réponse réussie, ou lève InvalidResponse en expliquant pourquoi."""
    payload = _json_body(response)
    if not isinstance(payload, dict) or "data" not in payload:
        raise InvalidResponse("invalid_envelope", "enveloppe de réponse inattendue")
    if payload.get("error"):
        raise InvalidResponse("error_envelope",
                              f"l'API signale une erreur : {payload.get('reason')!r}")
    data = payload["data"]
    if expected_type is not None and not isinstance(data, expected_type):
        raise InvalidResponse("invalid_data",
                              f"« data » de type {type(data).__name__} inattendu")
    return data


def parse_json(response, expected_type: type | tuple[type, ...] | None = None) -> Any:
    """Le corps JSON d'une réponse réussie d'une API sans enveloppe (Ninja, Wanzo)."""
    payload = _json_body(response)
    if expected_type is not None and not isinstance(payload, expected_type):
        raise InvalidResponse("invalid_data", f"réponse de type {type(payload).__name__} inattendu")
    return payload


def error_reason(response) -> str | None:
    """Le champ ``reason`` d'une réponse d'erreur, si son corps est du JSON lisible."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return None
    return payload.get("reason") if isinstance(payload, dict) else None


def retry_after_seconds(response, now: float | None = None) -> float | None:
    """Délai demandé par l'en-tête Retry-After (secondes ou date HTTP), s'il est présent."""
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, moment - (time.time() if now is None else now))
