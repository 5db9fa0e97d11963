"""API d'administration /_admin : vérité de référence, mutations, pannes, compteurs.

Réservée aux tests et aux bancs d'essai : pas d'authentification, mais seules les
connexions locales (boucle locale) sont servies. Réponses en JSON simple, sans
l'enveloppe Crisp ; erreurs sous la forme {"error": "<message en français>"}.

Mutations (tableau complet des routes : docs/sandbox.md) ; chacune renvoie les objets
touchés, 404 si la conversation, le message ou le profil est inconnu :

- POST /_admin/conversations : crée des conversations ;
- POST /_admin/conversations/{session_id}/messages : ajoute des messages ;
- POST /_admin/conversations/{session_id}/messages/{fingerprint}/edit : modifie un message ;
- POST /_admin/conversations/{session_id}/delete : supprime une conversation et ses
  messages (pas son profil) ; renvoie la conversation telle qu'elle était ;
- POST /_admin/conversations/{session_id}/messages/{fingerprint}/delete : supprime un
  message ; renvoie le message tel qu'il était ;
- POST /_admin/profiles/{people_id}/delete : supprime un profil ; renvoie la fiche telle
  qu'elle était ;
- POST /_admin/profiles/{people_id}/edit : modifie un profil (champs du corps fusionnés,
  400 si people_id ou email changent) ; renvoie la fiche modifiée.

?website=ID choisit un autre site que le premier (404 s'il n'est pas servi). Chaque mutation
est aussi annoncée aux clients temps réel abonnés (rtm_events.py) ; /_admin/rtm pilote ce
flux (rtm_admin.py) ; /_admin/hooks les envoie aussi en web hooks signés (hooks_out.py).
"""

from __future__ import annotations

from aiohttp import web

# Pièces partagées avec les doublures des autres systèmes (adminkit.py).
from .adminkit import InstrumentRoutes, loopback_only
from .adminkit import fail as _fail
from .adminkit import json_reply as _json
from .adminkit import read_body as _body

from . import rtm_events
from .dataset import Dataset
from .hooks_out import HookAdminRoutes
from .rtm_admin import RtmAdminRoutes
from .state import SANDBOX, Sandbox


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]


def _dataset(request: web.Request) -> Dataset:
    """Données du site ?website=ID (par défaut le premier) ; KeyError si le site est inconnu."""
    sandbox = _sandbox(request)
    website = request.query.get("website")
    return sandbox.dataset if website is None else sandbox.datasets[website]


def _count(payload: dict) -> int:
    count = payload.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError("count doit être un entier")
    return count


@web.middleware
async def known_website(request: web.Request, handler):
    """?website=ID d'une route d'administration : un site servi, sinon 404."""
    website = request.query.get("website")
    if request.path.startswith("/_admin") and website is not None \
            and website not in request.app[SANDBOX].datasets:
        return _fail(404, f"site inconnu : {website}")
    return await handler(request)


async def get_config(request: web.Request) -> web.Response:
    config = _sandbox(request).config
    return _json({
        "identifier": config.identifier, "key": config.key, "website_id": config.website_id,
        "tier": config.tier,  # niveau de jeton attendu (en-tête X-Crisp-Tier)
        "seed": config.seed, "conversations": config.conversations,
        "media_url": _sandbox(request).dataset.media_base,
        "websites": list(_sandbox(request).datasets),
    })


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
    await rtm_events.messages_added(_sandbox(request).rtm, _dataset(request).website_id, added)
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
    await rtm_events.message_updated(_sandbox(request).rtm, _dataset(request).website_id, edited)
    return _json(edited)


async def edit_profile(request: web.Request) -> web.Response:
    dataset = _dataset(request)
    try:
        edited = dataset.edit_profile(request.match_info["people_id"], await _body(request))
    except KeyError:
        return _fail(404, "profil inconnu")
    except ValueError as error:
        return _fail(400, str(error))
    await rtm_events.profile_updated(_sandbox(request).rtm, dataset.website_id, edited)
    return _json(edited)


def _deletion(method: str, params: tuple[str, ...], unknown: str, announce):
    """Route de suppression : appelle ``method`` du jeu de données avec ces paramètres de
    l'URL (``fingerprint`` en entier), l'annonce aux clients temps réel (``announce``, de
    rtm_events.py) et renvoie l'objet supprimé ; 404 ``unknown`` sinon."""

    async def handler(request: web.Request) -> web.Response:
        values = [int(request.match_info[name]) if name == "fingerprint"
                  else request.match_info[name] for name in params]
        dataset = _dataset(request)
        try:
            deleted = getattr(dataset, method)(*values)
        except KeyError:
            return _fail(404, unknown)
        await announce(_sandbox(request).rtm, dataset.website_id, deleted)
        return _json(deleted)

    return handler


delete_conversation = _deletion("delete_conversation", ("session_id",), "conversation inconnue",
                                rtm_events.session_removed)
delete_message = _deletion("delete_message", ("session_id", "fingerprint"),
                           "conversation ou message inconnu", rtm_events.message_removed)
delete_profile = _deletion("delete_profile", ("people_id",), "profil inconnu", rtm_events.profile_removed)


async def add_conversations(request: web.Request) -> web.Response:
    try:
        created = _dataset(request).add_conversations(_count(await _body(request)))
    except ValueError as error:
        return _fail(400, str(error))
    await rtm_events.sessions_created(_sandbox(request).rtm, _dataset(request).website_id, created)
    return _json(created)


def setup_admin(app: web.Application) -> None:
    """Branche les routes /_admin et le filtre « boucle locale »."""
    app.middlewares.append(loopback_only)
    app.middlewares.append(known_website)
    router = app.router
    router.add_get("/_admin/config", get_config)
    router.add_get("/_admin/truth/conversations", truth_conversations)
    router.add_get("/_admin/truth/counts", truth_counts)
    router.add_get("/_admin/truth/messages/{session_id}", truth_messages)
    router.add_get("/_admin/truth/profiles", truth_profiles)
    router.add_post("/_admin/conversations", add_conversations)
    router.add_post("/_admin/conversations/{session_id}/messages", add_messages)
    router.add_post(r"/_admin/conversations/{session_id}/messages/{fingerprint:\d+}/edit", edit_message)
    router.add_post("/_admin/conversations/{session_id}/delete", delete_conversation)
    router.add_post(r"/_admin/conversations/{session_id}/messages/{fingerprint:\d+}/delete", delete_message)
    router.add_post("/_admin/profiles/{people_id}/delete", delete_profile)
    router.add_post("/_admin/profiles/{people_id}/edit", edit_profile)
    InstrumentRoutes(_sandbox).register(router)  # compteurs et pannes
    RtmAdminRoutes(lambda request: _sandbox(request).rtm).register(router)  # flux temps réel
    HookAdminRoutes(lambda request: _sandbox(request).rtm.hooks).register(router)  # web hooks
