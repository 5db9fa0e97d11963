"""Pièces communes des API d'administration /_admin (Crisp et doublures des autres systèmes).

Réponses en JSON simple ; erreurs sous la forme {"error": "<message en français>"}.
Seules les connexions locales sont servies. Les routes des compteurs et des pannes
(/_admin/stats, /_admin/calls, /_admin/faults, /_admin/quota/reset) sont les mêmes pour
tous les systèmes : les tests et les bancs les lisent de la même façon.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Callable, Protocol

from aiohttp import web

from .envelope import dumps
from .faults import FaultState
from .stats import CallStats


def json_reply(payload: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(payload), content_type="application/json", charset="utf-8")


def fail(status: int, message: str) -> web.Response:
    return json_reply({"error": message}, status)


async def read_body(request: web.Request) -> dict:
    """Corps JSON (objet) de la requête ; vide si absent, ValueError si invalide."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except ValueError:
        raise ValueError("corps JSON invalide") from None
    if not isinstance(payload, dict):
        raise ValueError("un objet JSON est attendu")
    return payload


@web.middleware
async def loopback_only(request: web.Request, handler):
    """Refuse l'administration à toute adresse qui n'est pas locale."""
    if request.path.startswith("/_admin"):
        try:
            local = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            local = False
        if not local:
            return fail(403, "administration réservée aux connexions locales")
    return await handler(request)


class Instrumented(Protocol):
    """Ce que les routes communes lisent : les pannes et les compteurs d'un serveur simulé."""

    faults: FaultState
    stats: CallStats


class InstrumentRoutes:
    """Routes /_admin des compteurs et des pannes, pour n'importe quel serveur simulé."""

    def __init__(self, locate: Callable[[web.Request], Instrumented]) -> None:
        self._locate = locate

    async def get_stats(self, request: web.Request) -> web.Response:
        return json_reply(self._locate(request).stats.snapshot())

    async def get_calls(self, request: web.Request) -> web.Response:
        """Chronologie des appels (heure d'arrivée, statut) : pour mesurer l'espacement."""
        return json_reply({"calls": self._locate(request).stats.calls_timeline()})

    async def reset_stats(self, request: web.Request) -> web.Response:
        stats = self._locate(request).stats
        stats.reset()
        return json_reply(stats.snapshot())

    async def get_faults(self, request: web.Request) -> web.Response:
        faults = self._locate(request).faults
        return json_reply({**faults.options.as_dict(), "quota_used": faults.quota_used,
                           "fault_plan_left": faults.planned_left})

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            self._locate(request).faults.configure(await read_body(request))
        except ValueError as error:
            return fail(400, str(error))
        return await self.get_faults(request)

    async def restore_faults(self, request: web.Request) -> web.Response:
        self._locate(request).faults.restore()
        return await self.get_faults(request)

    async def reset_quota(self, request: web.Request) -> web.Response:
        self._locate(request).faults.reset_quota()
        return await self.get_faults(request)

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/_admin/stats", self.get_stats)
        router.add_post("/_admin/stats/reset", self.reset_stats)
        router.add_get("/_admin/calls", self.get_calls)
        router.add_get("/_admin/faults", self.get_faults)
        router.add_post("/_admin/faults", self.set_faults)
        router.add_post("/_admin/faults/reset", self.restore_faults)
        router.add_post("/_admin/quota/reset", self.reset_quota)
