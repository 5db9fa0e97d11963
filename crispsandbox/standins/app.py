"""Application aiohttp d'une doublure (ninja ou wanzo) : API, administration, cycle de vie.

Chaque appel de l'API passe par la couche commune (layer.guarded : latence, coupure, débit,
jeton, quota, 5xx, compteurs) ; les routes /_admin des compteurs et des pannes sont celles du
bac à sable Crisp (adminkit.InstrumentRoutes). S'y ajoutent la vérité et les mutations :

- GET  /_admin/config : système, jeton, graine, taille, chemin de l'API ;
- GET  /_admin/truth : {"conversations": [...], "messages": {id: [...]}}, objets tels que
  l'API les donne (ninja : ordre de création ; wanzo : ordre de la liste), messages dans
  l'ordre de l'API ;
- POST /_admin/messages {"id", "count", "same_timestamp", "customer"} : ajoute des messages ;
- POST /_admin/conversations {"count", "messages"} : crée des conversations ;
- POST /_admin/delete {"id"} : supprime une conversation (ses adresses répondent 404) ;
- GET/POST /_admin/drift {"every", "contexts"} : la dérive des pages (wanzo).
"""

from __future__ import annotations


from aiohttp import web

from ..banner import export_lines
from ..adminkit import InstrumentRoutes, fail, json_reply, loopback_only, read_body
from ..faults import FaultState
from ..layer import guarded
from ..stats import CallStats
from .config import StandinConfig
from .ninja import NinjaSystem
from .wanzo import WanzoSystem
from ..layer import start_site, wait_for_stop, write_port_file

System = NinjaSystem | WanzoSystem


class Standin:
    """État d'une doublure en marche : système simulé, pannes, compteurs."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.system: System = NinjaSystem(config) if config.system == "ninja" else WanzoSystem(config)
        self.faults = FaultState(config.faults, config.seed, error_payload=self.system.error_payload)
        self.stats = CallStats(self.system.kinds)


STANDIN = web.AppKey("standin", Standin)


def _standin(request: web.Request) -> Standin:
    return request.app[STANDIN]


async def handle_api(request: web.Request) -> web.StreamResponse:
    """Toutes les requêtes sous le chemin de l'API (routes connues ou non)."""
    standin = _standin(request)
    kind, key = standin.system.route(request)
    authorize, produce = standin.system.plan(request)

    async def handle() -> web.Response:
        return produce()

    return await guarded(request, standin.faults, standin.stats, kind, key, authorize, handle)


# --------------------------------------------------------------------------- administration


def _integer(payload: dict, name: str, default: int) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} doit être un entier")
    return value


async def get_config(request: web.Request) -> web.Response:
    config = _standin(request).config
    return json_reply({"system": config.system, "token": config.effective_token, "seed": config.seed,
                       "conversations": config.conversations, "api_path": config.api_path})


async def get_truth(request: web.Request) -> web.Response:
    return json_reply(_standin(request).system.truth())


async def add_messages(request: web.Request) -> web.Response:
    system = _standin(request).system
    try:
        payload = await read_body(request)
        customer = payload.get("customer")
        if customer is not None and not isinstance(customer, bool):
            raise ValueError("customer doit être un booléen")
        thread = system.store.get(str(payload.get("id")))
        added = system.store.append(thread.key, _integer(payload, "count", 1),
                                    same_timestamp=bool(payload.get("same_timestamp", False)), customer=customer)
    except KeyError:
        return fail(404, "conversation inconnue")
    except ValueError as error:
        return fail(400, str(error))
    present = system.conversation if isinstance(system, NinjaSystem) else system.context
    return json_reply({"conversation": present(thread), "messages": [system.message(thread, post) for post in added]})


async def add_conversations(request: web.Request) -> web.Response:
    system = _standin(request).system
    try:
        payload = await read_body(request)
        count, messages = _integer(payload, "count", 1), _integer(payload, "messages", 0)
        if not 1 <= count <= 1000:
            raise ValueError("count doit être compris entre 1 et 1000")
        created = [system.store.create(messages) for _ in range(count)]
    except ValueError as error:
        return fail(400, str(error))
    present = system.conversation if isinstance(system, NinjaSystem) else system.context
    return json_reply([present(thread) for thread in created])


async def delete_conversation(request: web.Request) -> web.Response:
    try:
        key = str((await read_body(request)).get("id"))
        _standin(request).system.store.delete(key)
    except KeyError:
        return fail(404, "conversation inconnue")
    except ValueError as error:
        return fail(400, str(error))
    return json_reply({"deleted": key})


async def get_drift(request: web.Request) -> web.Response:
    system = _standin(request).system
    if not isinstance(system, WanzoSystem):
        return fail(404, "la dérive des pages n'existe que pour wanzo")
    return json_reply({"every": system.drift_every, "contexts": system.drift_contexts,
                       "list_calls": system.list_calls, "drifted": system.drifted})


async def set_drift(request: web.Request) -> web.Response:
    system = _standin(request).system
    if not isinstance(system, WanzoSystem):
        return fail(404, "la dérive des pages n'existe que pour wanzo")
    try:
        payload = await read_body(request)
        every = _integer(payload, "every", system.drift_every)
        contexts = _integer(payload, "contexts", system.drift_contexts)
        if every < 0 or contexts < 1:
            raise ValueError("every doit être positif ou nul et contexts au moins 1")
    except ValueError as error:
        return fail(400, str(error))
    system.drift_every, system.drift_contexts = every, contexts
    return await get_drift(request)


def build_app(standin: Standin) -> web.Application:
    app = web.Application(middlewares=[loopback_only])
    app[STANDIN] = standin
    app.router.add_route("*", standin.config.api_path + "{tail:.*}", handle_api)
    router = app.router
    router.add_get("/_admin/config", get_config)
    router.add_get("/_admin/truth", get_truth)
    router.add_post("/_admin/messages", add_messages)
    router.add_post("/_admin/conversations", add_conversations)
    router.add_post("/_admin/delete", delete_conversation)
    router.add_get("/_admin/drift", get_drift)
    router.add_post("/_admin/drift", set_drift)
    InstrumentRoutes(_standin).register(router)  # compteurs et pannes, comme pour Crisp
    return app


def _log(message: str) -> None:
    print(message, flush=True)


async def serve(config: StandinConfig, host: str, port: int, port_file: str | None = None) -> None:
    """Sert jusqu'à SIGTERM ou SIGINT, puis s'arrête proprement."""
    standin = Standin(config)
    runner, actual_port, shown_host = await start_site(build_app(standin), host, port)
    url = f"http://{shown_host}:{actual_port}{config.api_path}"
    _log(f"SANDBOX_URL={url}")
    if port_file:
        write_port_file(port_file, actual_port)
    variable = config.system.upper()
    token = config.effective_token
    _log(f"Doublure {config.system} à l'écoute sur {shown_host}:{actual_port} : "
         f"{len(standin.system.store.threads)} conversations, graine {config.seed}.")
    _log(f"Administration : http://{shown_host}:{actual_port}/_admin/stats")
    variables = {f"{variable}_API_URL": url, **({f"{variable}_API_TOKEN": token} if token else {})}
    _log(export_lines("cette doublure", variables, [(f"crawl {config.system}", "")]))
    await wait_for_stop(runner, lambda: f"Arrêt de la doublure {config.system} "
                                        f"({standin.stats.calls} appels API reçus).")
