"""Application aiohttp du bac à sable : l'API Crisp /v1 et son cycle de vie.

Tout l'état (données, pannes, compteurs) vit dans l'objet Sandbox (state.py)
rangé dans l'application : deux serveurs d'un même processus ne partagent rien.
"""

from __future__ import annotations


import asyncio
import time

from aiohttp import web

from . import api, rtm
from .admin import setup_admin
from .banner import export_lines
from .defaults import DEFAULT_TIER
from .envelope import CrispError, json_response
from .layer import abort_connection
from .media import media_url, setup_media
from .stats import RESET_STATUS
from .state import SANDBOX, Sandbox, SandboxConfig
from .layer import start_site, wait_for_stop, write_port_file


# Partagée avec les doublures des autres systèmes (layer.py).
_abort = abort_connection


def _route(request: web.Request, sandbox: Sandbox, match: api.RouteMatch | None) -> api.ApiResult:
    """Réponse de la route : celles d'un site (api.py), puis l'adresse du temps réel (rtm.py)."""
    if match is not None:
        dataset = sandbox.dataset_for(match.params["website_id"])
        return match.route.handler(dataset, match.params, request.query)
    tier = rtm.connect_tier(request.method, request.raw_path)
    if tier is None:
        raise CrispError("not_found", "Route inconnue.", "route")
    sandbox.rtm.check_route_tier(tier)
    return api.ApiResult(200, rtm.endpoints_data(request))


async def _answer(request: web.Request, sandbox: Sandbox, match: api.RouteMatch | None, kind: str) -> web.Response | None:
    """Chaîne de traitement d'un appel API ; None si la connexion a été coupée.

    Ordre : latence, coupure, débit (le répartiteur de charge, avant toute
    authentification), jeton, quota, 5xx aléatoire, route, puis réponse éventuellement abîmée.
    """
    faults = sandbox.faults
    delay = faults.delay_seconds()
    if delay > 0:
        await asyncio.sleep(delay)
    if faults.should_reset():
        _abort(request)
        return None
    if not faults.take_token():
        return faults.rate_limited_response()
    try:
        sandbox.check_access(request.headers)
        faults.check_quota()
        failure = faults.server_error_response()
        if failure is not None:
            return failure
        result = _route(request, sandbox, match)
    except CrispError as error:
        faults.give_back()  # 401, 404… : la panne planifiée ira à l'appel suivant
        return json_response(error.status, error.body())
    return faults.success_response(result.status, result.data, kind)


async def handle_api(request: web.Request) -> web.StreamResponse:
    """Point d'entrée de toutes les requêtes /v1 (routes connues ou non)."""
    sandbox = request.app[SANDBOX]
    arrival = time.monotonic()
    match = api.resolve(request.method, request.raw_path)
    kind = match.route.kind if match else "other"
    sandbox.stats.record_call(kind, match.params.get("session_id") if match and kind == "messages" else None)
    response = await _answer(request, sandbox, match, kind)
    if response is None:
        sandbox.stats.record_status(RESET_STATUS, arrival)
        return web.Response()  # jamais envoyée : la connexion est déjà fermée
    sandbox.stats.record_status(response.status, arrival)
    return response


def build_app(sandbox: Sandbox) -> web.Application:
    """Application complète : API /v1, temps réel (Socket.IO) et API d'administration /_admin."""
    app = web.Application()
    app[SANDBOX] = sandbox
    app.router.add_route("*", "/v1/{tail:.*}", handle_api)
    setup_admin(app)
    sandbox.rtm.attach(app)  # Socket.IO sur /rtm/app/ (API RTM)
    setup_media(app, sandbox.config.seed, sandbox.config.media_slow_seconds)
    return app


def _log(message: str) -> None:
    print(message, flush=True)


async def serve(config: SandboxConfig, host: str, port: int, port_file: str | None = None) -> None:
    """Sert jusqu'à SIGTERM ou SIGINT, puis s'arrête proprement."""
    sandbox = Sandbox(config)
    runner, actual_port, shown_host = await start_site(build_app(sandbox), host, port)
    # Avant tout appel (le port n'est connu qu'ici) : les messages pointent vers nos fichiers.
    sandbox.dataset.media_base = config.media_url or media_url(host, actual_port)
    _log(f"SANDBOX_URL=http://{shown_host}:{actual_port}/v1")
    if port_file:
        write_port_file(port_file, actual_port)
    _log(
        f"Bac à sable Crisp à l'écoute sur {shown_host}:{actual_port} : "
        f"{config.conversations} conversations, graine {config.seed}, "
        f"site(s) {', '.join(sandbox.datasets)} ; jeton attendu : niveau « {config.tier} » "
        f"(X-Crisp-Tier: {config.tier})."
    )
    _log(f"Administration : http://{shown_host}:{actual_port}/_admin/stats")
    # Identifiants du bac à sable (jamais de vrais secrets) et commandes à coller telles quelles.
    variables = {
        "CRISP_API_URL": f"http://{shown_host}:{actual_port}/v1",
        "CRISP_IDENTIFIER_PROD": config.identifier, "CRISP_KEY_PROD": config.key,
        "ID_SITE_CRISP": config.website_id,
    }
    if config.tier != DEFAULT_TIER:
        variables["CRISP_TOKEN_TIER"] = config.tier  # lu par l'exportateur (jeton « plugin » sinon)
    _log(export_lines("ce bac à sable", variables, [
        ("crawl account", "conversations, messages et profils"),
        ("status", "où en est l'export (aucun appel)"),
    ]))
    await wait_for_stop(runner, lambda: f"Arrêt du bac à sable ({sandbox.stats.calls} appels "
                                        "API reçus).")
