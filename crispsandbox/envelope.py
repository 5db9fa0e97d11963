"""Enveloppe JSON des réponses Crisp et sérialisation.

Crisp répond toujours {"error": bool, "reason": str, "data": ...} en UTF-8, sans
échappement des caractères non ASCII : on reproduit les deux.
"""

from __future__ import annotations

import json

from aiohttp import web

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# Raisons d'erreur et statut HTTP associé (crisp-api.md).
ERROR_STATUS = {
    "invalid_data": 400,
    "unauthorized": 401,
    "not_allowed": 403,
    "restricted_route_tier": 403,
    "not_found": 404,
    "not_subscribed": 404,
    "quota_limit_exceeded": 423,
}


class CrispError(Exception):
    """Erreur métier à renvoyer dans l'enveloppe Crisp."""

    def __init__(self, reason: str, message: str, namespace: str = "request", status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.namespace = namespace
        self.status = status or ERROR_STATUS.get(reason, 400)

    def body(self) -> dict:
        return error_body(self.reason, self.message, self.namespace)


def dumps(payload: object) -> bytes:
    """JSON compact en UTF-8, caractères Unicode conservés tels quels."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def success_body(data: object) -> dict:
    """« resolved » pour un objet isolé, « success » pour une liste (observé chez Crisp)."""
    return {"error": False, "reason": "success" if isinstance(data, list) else "resolved", "data": data}


def error_body(reason: str, message: str, namespace: str = "request") -> dict:
    return {"error": True, "reason": reason, "data": {"namespace": namespace, "message": message}}


def json_response(status: int, payload: object, *, reason: str | None = None, headers: dict | None = None) -> web.Response:
    """Réponse HTTP JSON ; `reason` fournit la phrase des statuts non standard (420)."""
    response = web.Response(status=status, reason=reason, body=dumps(payload), headers=headers)
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    return response


def raw_response(status: int, body: bytes, content_type: str, *, reason: str | None = None, headers: dict | None = None) -> web.Response:
    """Réponse au corps arbitraire (page HTML d'un répartiteur de charge, JSON tronqué...)."""
    response = web.Response(status=status, reason=reason, body=body, headers=headers)
    response.headers["Content-Type"] = content_type
    return response
