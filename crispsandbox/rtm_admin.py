"""Routes /_admin/rtm : piloter le flux temps réel depuis les tests (boucle locale seulement,
JSON simple, erreurs {"error": "<message en français>"} comme le reste de /_admin).

- GET /_admin/rtm : {"clients", "events_sent", "auth_failures"}, et dès qu'une retenue a été
  demandée {"hold_left", "held", "released"} (prochains à retenir, retenus, partis après retenue) ;
- POST /_admin/rtm/disconnect : coupe chaque client (perte du réseau) -> {"disconnected": N} ;
- POST /_admin/rtm/drop {"count": N} : les N prochains événements ne partent pas -> {"drop_left": N} ;
- POST /_admin/rtm/duplicate {"count": N} : les N prochains partent deux fois -> {"duplicate_left": N} ;
- POST /_admin/rtm/hold {"count": N, "seconds": S} : les N prochains événements partent S
  secondes plus tard, après ceux publiés entre-temps (rtm_hold.py)
  -> {"hold_left": N, "seconds": S, "held": retenus} ;
- POST /_admin/rtm/emit {"event", "data", "website"} : un événement quelconque (inconnu de
  Crisp compris) à tous les clients authentifiés de ce site -> {"sent": émissions}.
"""

from __future__ import annotations

from typing import Callable

from aiohttp import web

from .adminkit import fail, json_reply, read_body
from .rtm import RESERVED_EVENTS, RtmHub
from .rtm_hold import parse_seconds


def _count(payload: dict) -> int:
    """« count » : entier positif ou nul (0 annule ce qui restait prévu)."""
    count = payload.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError("count doit être un entier positif ou nul")
    return count


class RtmAdminRoutes:
    """Routes d'administration du flux ; ``locate`` trouve le RtmHub du bac à sable servi."""

    def __init__(self, locate: Callable[[web.Request], RtmHub]) -> None:
        self._locate = locate

    async def get_state(self, request: web.Request) -> web.Response:
        return json_reply(self._locate(request).snapshot())

    async def disconnect(self, request: web.Request) -> web.Response:
        return json_reply({"disconnected": self._locate(request).cut_everyone()})

    async def drop(self, request: web.Request) -> web.Response:
        return await self._set_count(request, "drop_left")

    async def duplicate(self, request: web.Request) -> web.Response:
        return await self._set_count(request, "duplicate_left")

    async def _set_count(self, request: web.Request, name: str) -> web.Response:
        """Prochains événements perdus (``drop_left``) ou doublés (``duplicate_left``)."""
        hub = self._locate(request)
        try:
            setattr(hub, name, _count(await read_body(request)))
        except ValueError as error:
            return fail(400, str(error))
        return json_reply({name: getattr(hub, name)})

    async def hold(self, request: web.Request) -> web.Response:
        """Prochains événements retenus ; « seconds » n'est requis que si « count » > 0."""
        queue = self._locate(request).hold
        try:
            payload = await read_body(request)
            count = _count(payload)
            seconds = parse_seconds(payload) if count else 0.0
        except ValueError as error:
            return fail(400, str(error))
        queue.configure(count, seconds)
        return json_reply({"hold_left": queue.hold_left, "seconds": queue.seconds, "held": queue.held})

    async def emit(self, request: web.Request) -> web.Response:
        hub = self._locate(request)
        try:
            payload = await read_body(request)
        except ValueError as error:
            return fail(400, str(error))
        event, data = payload.get("event"), payload.get("data", {})
        website = payload.get("website", hub.config.website_id)
        if not isinstance(event, str) or not event or event in RESERVED_EVENTS:
            return fail(400, "event doit être un nom d'événement (pas un nom réservé de Socket.IO)")
        if not isinstance(data, dict):
            return fail(400, "data doit être un objet JSON")
        if not isinstance(website, str) or website not in hub.websites:
            return fail(404, f"site inconnu : {website}")
        return json_reply({"sent": await hub.publish(website, event, data, subscribed_only=False)})

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/_admin/rtm", self.get_state)
        router.add_post("/_admin/rtm/disconnect", self.disconnect)
        router.add_post("/_admin/rtm/drop", self.drop)
        router.add_post("/_admin/rtm/duplicate", self.duplicate)
        router.add_post("/_admin/rtm/hold", self.hold)
        router.add_post("/_admin/rtm/emit", self.emit)
