"""Web hooks sortants du bac à sable : chaque événement temps réel aussi POSTé comme Crisp.

Chaque événement que le bac à sable publie (rtm.py, ``RtmHub.publish`` : mutations
d'administration et /_admin/rtm/emit) part aussi, s'il y a une cible enregistrée, vers son
adresse, au format des web hooks de Crisp (contrat de l'issue 22) :

- ``POST`` de ``{"website_id", "event", "data", "timestamp"}`` (JSON, horodatage en ms) ;
- en-tête ``X-Crisp-Request-Timestamp`` ; avec un secret enregistré, ``X-Crisp-Signature`` =
  HMAC-SHA256 hexadécimal (clé : le secret) de ``"[" + horodatage + ";" + corps brut + "]"``
  (hook de plugin) ; avec une clé enregistrée, ``?key=…`` ajouté à l'adresse (hook de site).

L'envoi est attendu (10 s au plus) avant que la mutation ne réponde : quand l'appel
d'administration revient, le récepteur a déjà répondu (sauf pour un événement retenu par
/_admin/rtm/hold, envoyé à sa sortie). Pas de réessai ; les pertes et
doublons de /_admin/rtm ne s'appliquent pas aux hooks. Une cible, tous les sites servis.

Routes (boucle locale seulement, comme tout /_admin) :

- POST /_admin/hooks ``{"url", "secret"?, "key"?}`` : enregistre la cible (remet les
  compteurs à zéro) ; ``{"url": null}`` la retire ;
- GET /_admin/hooks : ``{"url", "signed", "keyed", "sent", "failures", "statuses",
  "last_error"}`` ; ``url`` sans la clé, le secret et la clé ne sont jamais rendus.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Callable

import aiohttp
from aiohttp import web
from yarl import URL

from .adminkit import fail, json_reply, read_body

# Délai d'un envoi (secondes), réponse comprise.
SEND_TIMEOUT = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Signature d'un hook de plugin, comme Crisp : HMAC-SHA256 hexadécimal de ``[ts;corps]``."""
    message = b"[" + timestamp.encode("utf-8") + b";" + body + b"]"
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HookTarget:
    """Où envoyer : adresse, secret de signature (facultatif), clé ``?key=`` (facultative)."""

    url: str
    secret: str | None = None
    key: str | None = None

    @property
    def address(self) -> URL:
        url = URL(self.url)
        return url.update_query(key=self.key) if self.key else url


def _optional_text(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} doit être un texte non vide (ou absent)")
    return value


def parse_target(payload: dict) -> HookTarget | None:
    """Cible d'un corps de POST /_admin/hooks ; None pour la retirer ; ValueError sinon."""
    url = payload.get("url")
    if url is None:
        return None
    if not isinstance(url, str):
        raise ValueError("url doit être une adresse http(s) complète")
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("url doit être une adresse http(s) complète")
    return HookTarget(url, _optional_text(payload, "secret"), _optional_text(payload, "key"))


class HookSender:
    """La cible enregistrée, l'envoi des hooks et leurs compteurs."""

    def __init__(self) -> None:
        self.target: HookTarget | None = None
        self._session: aiohttp.ClientSession | None = None
        self._reset_counts()

    def _reset_counts(self) -> None:
        self.sent = 0  # hooks acquittés (2xx)
        self.failures = 0  # réponse hors 2xx, ou envoi impossible
        self.statuses: dict[str, int] = {}  # statut HTTP -> nombre
        self.last_error: str | None = None

    def attach(self, app: web.Application) -> None:
        """Ferme la session HTTP à l'arrêt de l'application."""
        app.on_cleanup.append(self._close)

    async def _close(self, app: web.Application | None = None) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def register(self, target: HookTarget | None) -> None:
        self.target = target
        self._reset_counts()

    @staticmethod
    def request_parts(target: HookTarget, website_id: str, event: str, data: dict,
                      now_ms: int) -> tuple[bytes, dict[str, str]]:
        """(corps brut, en-têtes) d'un hook, signé si la cible a un secret."""
        body = json.dumps({"website_id": website_id, "event": event, "data": data,
                           "timestamp": now_ms}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        timestamp = str(now_ms)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Crisp-Request-Timestamp": timestamp}
        if target.secret:
            headers["X-Crisp-Signature"] = sign(target.secret, timestamp, body)
        return body, headers

    async def deliver(self, website_id: str, event: str, data: dict) -> None:
        """POSTe l'événement à la cible enregistrée (rien sans cible) et compte la réponse."""
        target = self.target
        if target is None:
            return
        body, headers = self.request_parts(target, website_id, event, data,
                                           int(time.time() * 1000))
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT))
        try:
            async with self._session.post(target.address, data=body, headers=headers) as reply:
                await reply.read()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self.failures += 1
            self.last_error = f"envoi impossible ({type(error).__name__})"
            return
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if 200 <= status < 300:
            self.sent += 1
        else:
            self.failures += 1
            self.last_error = f"réponse {status}"

    def snapshot(self) -> dict:
        target = self.target
        return {"url": target.url if target else None,
                "signed": bool(target and target.secret), "keyed": bool(target and target.key),
                "sent": self.sent, "failures": self.failures, "statuses": dict(self.statuses),
                "last_error": self.last_error}


class HookAdminRoutes:
    """Routes /_admin/hooks ; ``locate`` trouve le HookSender du bac à sable servi."""

    def __init__(self, locate: Callable[[web.Request], HookSender]) -> None:
        self._locate = locate

    async def get_state(self, request: web.Request) -> web.Response:
        return json_reply(self._locate(request).snapshot())

    async def set_target(self, request: web.Request) -> web.Response:
        sender = self._locate(request)
        try:
            sender.register(parse_target(await read_body(request)))
        except ValueError as error:
            return fail(400, str(error))
        return json_reply(sender.snapshot())

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/_admin/hooks", self.get_state)
        router.add_post("/_admin/hooks", self.set_target)
