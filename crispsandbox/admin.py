"""API d'administration /_admin : vérité de référence, mutations, pannes, compteurs.

Réservée aux tests et aux bancs d'essai : pas d'authentification, mais seules les
connexions locales (boucle locale) sont servies. Réponses en JSON simple, sans
l'enveloppe Crisp ; erreurs sous la forme {"error": "<message en français>"}.
"""

from __future__ import annotations

import ipaddress
import json

from aiohttp import web

from .envelope import dumps
from .dataset import Dataset
from .state import SANDBOX, Sandbox


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(payload), content_type="application/json", charset="utf-8")


def _fail(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]


def _dataset(request: web.Request) -> Dataset:
    """Données du site ?website=ID (par défaut le premier) ; KeyError si le site est inconnu."""
    sandbox = _sandbox(request)
    website = request.query.get("website")
    return sandbox.dataset if website is None else sandbox.datasets[website]


async def _body(request: web.Request) -> dict:
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


def _count(payload: dict) -> int:
    count = payload.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError("count doit être un entier")
    return count


@web.middleware
async def loopback_only(request: web.Request, handler):
    """Refuse l'administration à toute adresse qui n'est pas locale."""
    if request.path.startswith("/_admin"):
        try:
            local = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            local = False
        if not local:
            return _fail(403, "administration réservée aux connexions locales")
        website = request.query.get("website")
        if website is not None and website not in request.app[SANDBOX].datasets:
            return _fail(404, f"site inconnu : {website}")
    return await handler(request)


async def get_config(request: web.Request) -> web.Response:
    config = _sandbox(request).config
    return _json({
        "identifier": config.identifier, "key": config.key, "website_id": config.website_id,
        "seed": config.seed, "conversations": config.conversations,
        "websites": list(_sandbox(request).datasets),
    })


async def get_stats(request: web.Request) -> web.Response:
    return _json(_sandbox(request).stats.snapshot())


async def get_calls(request: web.Request) -> web.Response:
    """Chronologie des appels (heure d'arrivée, statut) : pour mesurer l'espacement."""
    return _json({"calls": _sandbox(request).stats.calls_timeline()})


async def reset_stats(request: web.Request) -> web.Response:
    stats = _sandbox(request).stats
    stats.reset()
    return _json(stats.snapshot())


async def truth_conversations(request: web.Request) -> web.Response:
    return _json(_dataset(request).conversations(include_empty=True))


async def truth_counts(request: web.Request) -> web.Response:
    """Nombre de messages par conversation, dans l'ordre de la liste."""
    data = _dataset(request)
    return _json({session_id: data.message_count(session_id) for session_id in data.session_ids()})


async def truth_messages(request: web.Request) -> web.Response:
    try:
        return _json(_dataset(request).messages(request.match_info["session_id"]))
    except KeyError:
        return _fail(404, "conversation inconnue")


async def truth_profiles(request: web.Request) -> web.Response:
    return _json(_dataset(request).profiles())


async def add_messages(request: web.Request) -> web.Response:
    try:
        payload = await _body(request)
        timestamp = payload.get("timestamp")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0):
            raise ValueError("timestamp doit être un entier positif (millisecondes)")
        added = _dataset(request).add_messages(
            request.match_info["session_id"], _count(payload),
            same_ms=bool(payload.get("same_ms", False)), timestamp=timestamp,
        )
    except KeyError:
        return _fail(404, "conversation inconnue")
    except ValueError as error:
        return _fail(400, str(error))
    return _json(added)


async def edit_message(request: web.Request) -> web.Response:
    try:
        payload = await _body(request)
        if "content" not in payload:
            raise ValueError("content est obligatoire")
        edited = _dataset(request).edit_message(
            request.match_info["session_id"], int(request.match_info["fingerprint"]), payload["content"],
        )
    except KeyError:
        return _fail(404, "conversation ou message inconnu")
    except ValueError as error:
        return _fail(400, str(error))
    return _json(edited)


async def add_conversations(request: web.Request) -> web.Response:
    try:
        created = _dataset(request).add_conversations(_count(await _body(request)))
    except ValueError as error:
        return _fail(400, str(error))
    return _json(created)


async def get_faults(request: web.Request) -> web.Response:
    faults = _sandbox(request).faults
    return _json({**faults.options.as_dict(), "quota_used": faults.quota_used})


async def set_faults(request: web.Request) -> web.Response:
    try:
        _sandbox(request).faults.configure(await _body(request))
    except ValueError as error:
        return _fail(400, str(error))
    return await get_faults(request)


async def restore_faults(request: web.Request) -> web.Response:
    _sandbox(request).faults.restore()
    return await get_faults(request)


async def reset_quota(request: web.Request) -> web.Response:
    _sandbox(request).faults.reset_quota()
    return await get_faults(request)


def setup_admin(app: web.Application) -> None:
    """Branche les routes /_admin et le filtre « boucle locale »."""
    app.middlewares.append(loopback_only)
    router = app.router
    router.add_get("/_admin/config", get_config)
    router.add_get("/_admin/stats", get_stats)
    router.add_post("/_admin/stats/reset", reset_stats)
    router.add_get("/_admin/calls", get_calls)
    router.add_get("/_admin/truth/conversations", truth_conversations)
    router.add_get("/_admin/truth/counts", truth_counts)
    router.add_get("/_admin/truth/messages/{session_id}", truth_messages)
    router.add_get("/_admin/truth/profiles", truth_profiles)
    router.add_post("/_admin/conversations", add_conversations)
    router.add_post("/_admin/conversations/{session_id}/messages", add_messages)
    router.add_post(r"/_admin/conversations/{session_id}/messages/{fingerprint:\d+}/edit", edit_message)
    router.add_get("/_admin/faults", get_faults)
    router.add_post("/_admin/faults", set_faults)
    router.add_post("/_admin/faults/reset", restore_faults)
    router.add_post("/_admin/quota/reset", reset_quota)
