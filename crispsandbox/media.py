"""Les fichiers que les messages du bac à sable référencent (``file``, ``audio``, ``animation``).

Chaque URL de fichier se termine par ``/media/{jeton}/{nom}`` ; le jeton (un UUID tiré de la
graine) décide seul, de façon déterministe, de ce que le serveur répond :

- ``ok`` : quelques kilo-octets ;
- ``missing`` : 404, comme une URL de stockage expirée ;
- ``slow`` : les octets arrivent par morceaux pendant ``media_slow_seconds`` (2 s par défaut) ;
- ``large`` : un peu plus de 3 Mo.

Le contenu (``media_body``) ne dépend que de (graine, jeton) : un test compare les octets
exportés à ``media_body`` sans passer par le serveur. Les fichiers sont servis sur un autre
NOM d'hôte que l'API (``localhost`` quand l'API est ``127.0.0.1``) : pour un client, c'est
un autre hôte, qui ne doit jamais recevoir les identifiants Crisp. ``MediaStats`` compte les
requêtes par jeton et celles qui portaient un en-tête ``Authorization`` ou ``X-Crisp-Tier``
(``GET /_admin/media/stats``).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from .seeds import rng_for

ROUTE = "/media"
# Parts des jetons (cumulées) : absents, lents, gros ; le reste est ordinaire.
KINDS = (("missing", 0.06), ("slow", 0.10), ("large", 0.13))
LARGE_SIZE = 3 * 1024 * 1024
SLOW_CHUNKS = 10


def media_url(api_host: str, port: int) -> str:
    """Base des URL de fichiers : le même serveur, sous un autre nom d'hôte que l'API."""
    host = "127.0.0.1" if api_host == "localhost" else "localhost"
    return f"http://{host}:{port}{ROUTE}"


def media_kind(seed: int, token: str) -> str:
    roll = rng_for(seed, "media", token).random()
    return next((kind for kind, limit in KINDS if roll < limit), "ok")


def media_body(seed: int, token: str) -> bytes | None:
    """Octets servis pour ce jeton (None : 404)."""
    kind = media_kind(seed, token)
    if kind == "missing":
        return None
    rng = rng_for(seed, "media-body", token)
    size = LARGE_SIZE + rng.randrange(1000) if kind == "large" else rng.randint(200, 40_000)
    return rng.randbytes(size)


class MediaStats:
    """Requêtes reçues sur /media : par jeton, et celles qui portaient des identifiants."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_token: Counter[str] = Counter()
        self.with_authorization = 0
        self.with_crisp_tier = 0

    def record(self, token: str, headers) -> None:
        self.requests += 1
        self.by_token[token] += 1
        self.with_authorization += "Authorization" in headers
        self.with_crisp_tier += "X-Crisp-Tier" in headers

    def snapshot(self) -> dict:
        return {"requests": self.requests, "by_token": dict(self.by_token),
                "with_authorization": self.with_authorization,
                "with_crisp_tier": self.with_crisp_tier}


MEDIA_STATS = web.AppKey("media_stats", MediaStats)
MEDIA_OPTIONS = web.AppKey("media_options", dict)


async def serve_media(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    request.app[MEDIA_STATS].record(token, request.headers)
    options = request.app[MEDIA_OPTIONS]
    body = media_body(options["seed"], token)
    if body is None:
        return web.Response(status=404, text="fichier expiré ou introuvable")
    if media_kind(options["seed"], token) != "slow":
        return web.Response(body=body, content_type="application/octet-stream")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = len(body)
    await response.prepare(request)
    step = -(-len(body) // SLOW_CHUNKS)
    for start in range(0, len(body), step):
        await asyncio.sleep(options["slow_seconds"] / SLOW_CHUNKS)
        await response.write(body[start:start + step])
    await response.write_eof()
    return response


async def media_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[MEDIA_STATS].snapshot())


async def reset_media_stats(request: web.Request) -> web.Response:
    stats = request.app[MEDIA_STATS]
    stats.reset()
    return web.json_response(stats.snapshot())


def setup_media(app: web.Application, seed: int, slow_seconds: float) -> None:
    """Route des fichiers et ses compteurs (l'administration reste réservée à la boucle locale)."""
    app[MEDIA_STATS] = MediaStats()
    app[MEDIA_OPTIONS] = {"seed": seed, "slow_seconds": slow_seconds}
    app.router.add_get(ROUTE + "/{token}/{name:.*}", serve_media)
    app.router.add_get("/_admin/media/stats", media_stats)
    app.router.add_post("/_admin/media/stats/reset", reset_media_stats)
