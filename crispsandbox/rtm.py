"""Temps réel (API RTM de Crisp) du bac à sable : un serveur Socket.IO sur l'application aiohttp.

Contrat (voir docs/sandbox.md, « Temps réel ») :

- l'adresse se lit sur ``GET /v1/plugin/connect/endpoints`` (niveau « plugin ») ou
  ``GET /v1/website/connect/endpoints`` (niveau « website ») : ``data.socket.app``, une URL
  dont le chemin est le chemin Socket.IO (``/rtm/app/``) ;
- le client se connecte (transport WebSocket), puis émet ``authentication`` avec
  ``{"tier", "username", "password", "events", "rooms"}`` ; refus : ``unauthorized`` (message
  en français) puis déconnexion ; accord : ``authenticated`` ({}) ;
- ensuite, chaque événement d'un site de ``rooms`` dont le nom figure dans ``events`` lui
  arrive comme événement Socket.IO du même nom, avec un seul objet.

Les pannes du flux (coupure réseau, pertes, doublons, retards et désordre) se règlent par
/_admin/rtm (rtm_admin.py, rtm_hold.py) ; les événements naissent des mutations
d'administration (rtm_events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import socketio
from aiohttp import web

from .envelope import CrispError
from .hooks_out import HookSender
from .layer import abort_connection
from .rtm_hold import HoldQueue

if TYPE_CHECKING:
    from .state import SandboxConfig

# Chemin Socket.IO servi, annoncé dans data.socket.app.
SOCKET_PATH = "/rtm/app/"
# Route d'adresse RTM de chaque niveau de jeton.
CONNECT_ROUTES = {"/v1/plugin/connect/endpoints": "plugin", "/v1/website/connect/endpoints": "website"}
# Noms que Socket.IO se réserve : jamais émis comme événement Crisp.
RESERVED_EVENTS = frozenset({
    "connect", "connect_error", "disconnect", "disconnecting", "message", "newListener", "removeListener",
})


def connect_tier(method: str, raw_path: str) -> str | None:
    """Niveau de jeton de la route d'adresse RTM visée ; None si ce n'en est pas une."""
    if method != "GET":
        return None
    return CONNECT_ROUTES.get(raw_path.split("?", 1)[0].rstrip("/"))


def endpoints_data(request: web.Request) -> dict:
    """Contenu de ``data`` : l'URL du serveur Socket.IO, sur l'hôte qu'a appelé le client."""
    return {"socket": {"app": f"{request.scheme}://{request.host}{SOCKET_PATH}"}}


@dataclass(frozen=True)
class Subscription:
    """Ce qu'un client authentifié reçoit : ces événements, de ces sites."""

    events: frozenset[str]
    rooms: frozenset[str]


def _names(payload: dict, field: str) -> frozenset[str]:
    """Liste de chaînes du message d'authentification ; ValueError (en français) sinon."""
    value = payload.get(field)
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError(f"« {field} » doit être une liste de noms")
    return frozenset(value)


class RtmHub:
    """Serveur Socket.IO et état du flux : abonnés, compteurs, pertes et doublons à venir."""

    def __init__(self, config: SandboxConfig, websites: Iterable[str]) -> None:
        self.config = config
        self.websites = frozenset(websites)
        # Transport WebSocket seulement, comme le client Crisp.
        self.server = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*",
                                           transports=["websocket"])
        self._requests: dict[str, web.Request] = {}  # sid -> requête HTTP de la WebSocket
        self._clients: dict[str, Subscription] = {}  # sid -> abonnement (clients authentifiés)
        self.events_sent = 0  # émissions, une par client destinataire (doublon : deux)
        self.auth_failures = 0
        self.drop_left = 0  # événements à perdre
        self.duplicate_left = 0  # événements à envoyer deux fois
        self.hooks = HookSender()  # chaque événement aussi POSTé en web hook (hooks_out.py)
        self.hold = HoldQueue(self._deliver)  # événements retenus, partis plus tard (rtm_hold.py)
        self.server.on("connect", self._on_connect)
        self.server.on("authentication", self._on_authentication)
        self.server.on("disconnect", self._on_disconnect)

    def attach(self, app: web.Application) -> None:
        """Branche le serveur Socket.IO sur l'application (et son arrêt sur celui de l'application)."""
        self.server.attach(app, socketio_path=SOCKET_PATH.strip("/"))
        app.on_shutdown.append(self._on_shutdown)
        self.hooks.attach(app)

    # ------------------------------------------------------------------ accès

    def check_route_tier(self, tier: str) -> None:
        """Route d'adresse RTM d'un autre niveau que celui du bac à sable : même refus qu'un
        jeton de l'autre niveau (401 unauthorized, voir Sandbox.check_access)."""
        if tier != self.config.tier:
            raise CrispError("unauthorized", "Identifiants du jeton invalides.", "authentication")

    def _subscription(self, payload: object) -> Subscription:
        """Abonnement d'un message ``authentication`` ; ValueError (message court en français) sinon."""
        if not isinstance(payload, dict):
            raise ValueError("authentification illisible")
        if payload.get("tier") != self.config.tier:
            raise ValueError("niveau de jeton refusé")
        if payload.get("username") != self.config.identifier or payload.get("password") != self.config.key:
            raise ValueError("identifiants invalides")
        events, rooms = _names(payload, "events"), _names(payload, "rooms")
        if not rooms:
            raise ValueError("aucun site demandé")
        unknown = sorted(rooms - self.websites)
        if unknown:
            raise ValueError(f"site non servi : {unknown[0]}")
        return Subscription(events, rooms)

    # ------------------------------------------------------------------ Socket.IO

    async def _on_connect(self, sid: str, environ: dict, auth: object = None) -> None:
        request = environ.get("aiohttp.request")
        if request is not None:
            self._requests[sid] = request

    async def _on_authentication(self, sid: str, payload: object = None) -> None:
        try:
            subscription = self._subscription(payload)
        except ValueError as error:
            self.auth_failures += 1
            self._clients.pop(sid, None)
            await self.server.emit("unauthorized", f"Authentification refusée : {error}.", to=sid)
            await self.server.disconnect(sid)
            return
        self._clients[sid] = subscription
        for room in subscription.rooms:
            await self.server.enter_room(sid, room)
        await self.server.emit("authenticated", {}, to=sid)

    async def _on_disconnect(self, sid: str, reason: object = None) -> None:
        self._clients.pop(sid, None)
        self._requests.pop(sid, None)

    async def _on_shutdown(self, app: web.Application) -> None:
        """Arrêt du bac à sable : les WebSockets ouvertes n'attendent pas le délai d'arrêt
        d'aiohttp, elles sont coupées comme par une perte du réseau."""
        self.cut_everyone()
        await self.hold.close()
        await self.server.shutdown()

    # ------------------------------------------------------------------ flux

    @property
    def client_count(self) -> int:
        """Clients authentifiés en ce moment."""
        return len(self._clients)

    def recipients(self, website_id: str, event: str | None) -> list[str]:
        """Clients authentifiés abonnés à ce site (et à cet événement, sauf ``event`` None)."""
        return [sid for sid, subscription in self._clients.items()
                if website_id in subscription.rooms and (event is None or event in subscription.events)]

    async def publish(self, website_id: str, event: str, data: dict, *, subscribed_only: bool = True) -> int:
        """Envoie un événement à ses destinataires, puis en web hook à la cible enregistrée
        (hooks_out.py, sans pertes ni doublons) ; renvoie le nombre d'émissions Socket.IO.

        Une retenue prévue (/_admin/rtm/hold) le garde pour plus tard s'il a un destinataire,
        client ou cible de hooks : rien ne part maintenant (0 émission)."""
        has_target = self.hooks.target is not None or bool(
            self.recipients(website_id, event if subscribed_only else None))
        if has_target and self.hold.take(website_id, event, data, subscribed_only):
            return 0
        return await self._deliver(website_id, event, data, subscribed_only)

    async def _deliver(self, website_id: str, event: str, data: dict, subscribed_only: bool) -> int:
        """Émissions Socket.IO, puis web hook ; aussi le départ d'un événement retenu."""
        sent = await self._emit(website_id, event, data, subscribed_only)
        await self.hooks.deliver(website_id, event, data)
        return sent

    async def _emit(self, website_id: str, event: str, data: dict, subscribed_only: bool) -> int:
        """Émissions Socket.IO d'un événement.

        Un événement sans destinataire n'entame ni les pertes ni les doublons prévus : le
        suivant qui en a les prendra. ``subscribed_only`` faux : tous les clients du site,
        abonnés ou non à ce nom (événements arbitraires de /_admin/rtm/emit).
        """
        recipients = self.recipients(website_id, event if subscribed_only else None)
        if not recipients:
            return 0
        if self.drop_left > 0:
            self.drop_left -= 1
            return 0
        copies = 1
        if self.duplicate_left > 0:
            self.duplicate_left -= 1
            copies = 2
        sent = 0
        for _ in range(copies):
            for sid in recipients:
                await self.server.emit(event, data, to=sid)
                sent += 1
        self.events_sent += sent
        return sent

    def cut_everyone(self) -> int:
        """Coupe net la connexion TCP de chaque client (perte du réseau, sans paquet de
        fermeture Socket.IO ni Engine.IO : le client se reconnecte s'il sait le faire).
        Renvoie le nombre de clients coupés."""
        requests = list(self._requests.values())
        self._requests.clear()
        self._clients.clear()
        for request in requests:
            abort_connection(request)
        return len(requests)

    def snapshot(self) -> dict:
        """Compteurs de GET /_admin/rtm ; ceux de la retenue dès qu'une a été demandée."""
        counts = {"clients": self.client_count, "events_sent": self.events_sent,
                  "auth_failures": self.auth_failures}
        if self.hold.requested:
            counts.update(self.hold.snapshot())
        return counts
