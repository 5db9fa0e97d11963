"""La connexion RTM de Crisp (Socket.IO) que le direct ouvre lui-même (issue 22).

Contrat (docs de Crisp et son client Node ; le bac à sable le parle) : l'adresse vient de
``GET /plugin/connect/endpoints`` (ou ``/website/…`` pour un jeton de site), champ
``socket.app`` ; on se connecte à son origine avec son chemin comme chemin Socket.IO, en
WebSocket, puis on émet ``authentication`` (tier, identifiant, clé, événements, sites). Le
serveur répond ``unauthorized`` (puis coupe) si les identifiants sont refusés ; sinon les
événements arrivent, un objet chacun. Après chaque reconnexion, on s'authentifie de nouveau.

Rien n'est supposé du flux : ni ordre, ni identifiant d'événement, ni livraison unique, ni
rejeu de ce qui a été envoyé pendant une coupure (la réconciliation s'en charge).
L'identifiant et la clé ne vivent que dans la fermeture de ``run`` : jamais un attribut,
jamais écrits.

Statistiques (``stats``, lisibles en direct par JSON-RPC ; aucun identifiant) :

- ``live/connected`` : 1 une fois authentifié, 0 sinon ;
- ``live/down_since`` : heure (secondes depuis 1970, ``time.time()``) depuis laquelle la
  connexion manque (perdue, ou pas encore authentifiée au départ) ; None une fois connecté ;
- ``live/connection_losses`` : connexions authentifiées perdues (pas un arrêt voulu) ;
- ``live/last_event_at`` : heure du dernier événement reçu (secondes depuis 1970).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import socketio

from crispscrape.console import console_extra

# Recul entre deux tentatives de connexion (secondes) : doublé à chaque échec, plafonné.
FIRST_DELAY, MAX_DELAY = 1.0, 30.0


def socket_target(app_url: str) -> tuple[str, str]:
    """(origine, chemin Socket.IO) d'après ``socket.app`` : ``https://x/y/`` -> (``https://x``,
    ``y``)."""
    parts = urlsplit(app_url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.strip("/") or "socket.io"


class RtmConnection:
    """Tient la connexion : connexion, authentification, reconnexion avec recul, coupures
    dites en français. ``on_event(nom, données)`` reçoit chaque événement ;
    ``on_refused(message)`` est appelé une fois si les identifiants sont refusés."""

    def __init__(self, app_url: str, events: list[str], rooms: list[str], tier: str,
                 on_event: Callable[[str, dict], object], on_refused: Callable[[str], None],
                 logger: logging.Logger | logging.LoggerAdapter, stats=None):
        self.origin, self.path = socket_target(app_url)
        self.events, self.rooms, self.tier = events, rooms, tier
        self.on_event, self.on_refused, self.logger = on_event, on_refused, logger
        # handle_sigint=False : sinon python-socketio prend SIGINT pour lui (Ctrl-C, et le
        # cancel.json de scrapyd) — il annule TOUTES les tâches asyncio et arrête la boucle,
        # sans la fin propre de Scrapy (journal, état, récapitulatif).
        self.client = socketio.AsyncClient(reconnection=False, logger=False,
                                           engineio_logger=False, handle_sigint=False)
        self.stopping = False
        self.connected = asyncio.Event()
        self._lost_at: float | None = None
        self.stats = stats
        self._set("live/connected", 0)
        self._set("live/down_since", time.time())
        self._set("live/connection_losses", 0)

    def _set(self, name: str, value) -> None:
        if self.stats is not None:
            self.stats.set_value(name, value)

    async def run(self, identifier: str, key: str, sleep: Callable[[float], Awaitable] = asyncio.sleep):
        """Se connecte et se reconnecte jusqu'à ``stop()`` ou un refus des identifiants."""
        client, delay = self.client, FIRST_DELAY
        gone = asyncio.Event()

        @client.event
        async def connect():
            await client.emit("authentication", {"tier": self.tier, "username": identifier,
                                                 "password": key, "events": self.events,
                                                 "rooms": self.rooms})

        @client.on("authenticated")
        async def authenticated(data=None):
            nonlocal delay
            delay = FIRST_DELAY
            if self._lost_at is not None:
                self.logger.info("Direct : connexion rétablie après %.0f s.",
                                 time.monotonic() - self._lost_at, extra=console_extra())
                self._lost_at = None
            else:
                self.logger.info("Direct : connecté à %s, les événements arrivent.", self.origin,
                                 extra=console_extra())
            self.connected.set()
            self._set("live/connected", 1)
            self._set("live/down_since", None)

        @client.on("unauthorized")
        async def unauthorized(data=None):
            self.stopping = True
            self.on_refused("Identifiants Crisp refusés par la connexion en direct (RTM, "
                            "« unauthorized ») : vérifiez CRISP_IDENTIFIER_PROD, CRISP_KEY_PROD "
                            "et CRISP_TOKEN_TIER.")

        @client.event
        async def disconnect(*args):
            if self.connected.is_set():
                self._set("live/connected", 0)
                if not self.stopping:
                    # Perte d'une connexion authentifiée (un arrêt voulu n'en est pas une).
                    self._set("live/down_since", time.time())
                    if self.stats is not None:
                        self.stats.inc_value("live/connection_losses")
            self.connected.clear()
            gone.set()

        @client.on("*")
        async def any_event(event, data=None):
            self._set("live/last_event_at", time.time())
            self.on_event(event, data)

        while not self.stopping:
            gone.clear()
            try:
                await client.connect(self.origin, socketio_path=self.path,
                                     transports=["websocket"])
            except socketio.exceptions.ConnectionError as exc:
                self._lost(f"connexion impossible ({exc})", delay)
            else:
                await gone.wait()
                if self.stopping:
                    break
                self._lost("connexion coupée", delay)
            await sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    def _lost(self, why: str, delay: float) -> None:
        if self._lost_at is None:
            self._lost_at = time.monotonic()
        self.logger.warning("Direct interrompu (%s) depuis %.0f s ; nouvel essai dans %.0f s.",
                            why, time.monotonic() - self._lost_at, delay)

    async def stop(self) -> None:
        self.stopping = True
        if self.client.connected:
            await self.client.disconnect()
