"""Doublure de la discussion du portefeuille Wanzo (base /portfolio/api/v1).

Routes (specs/other-chat-api-wanzo.md et notre lecture, issue 11) :
- GET /chat/contexts?limit=&offset= -> {"contexts", "total", "limit", "offset"}, les plus
  récemment mis à jour d'abord (updated_at décroissant, puis id) ;
- GET /chat/contexts/{id} -> le contexte ;
- GET /chat/contexts/{id}/messages?limit=[&after=ID][&before=ID] -> {"messages", "hasMore",
  "nextCursor"} : sans curseur, la page la plus ancienne, du plus ancien au plus récent ;
  after/before stricts dans l'ordre de l'API ; hasMore = il reste des messages après la page ;
  nextCursor = id du premier message suivant, null sinon ; id de message inconnu -> 400.
Jeton Bearer obligatoire (401 {"error": "Unauthorized", "statusCode": 401}), erreurs à la
manière de NestJS ({"statusCode", "message", "error"}). Option de dérive : toutes les K
listes, des contextes reçoivent un message et passent en tête pendant qu'un client pagine.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Mapping
from urllib.parse import unquote

from aiohttp import web

from ..envelope import json_response
from ..seeds import rng_for
from .config import StandinConfig, iso
from .corpus import Post, Thread, ThreadStore

KINDS = ("conversations", "messages", "other")
CONTEXTS_DEFAULT, MESSAGES_DEFAULT, LIMIT_MAX = 20, 20, 100
PORTFOLIO_TYPES = ("traditional", "investment", "leasing")
_PREFIX = "/portfolio/api/v1"
_CONTEXTS = re.compile(r"^/portfolio/api/v1/chat/contexts/?$")
_CONTEXT = re.compile(r"^/portfolio/api/v1/chat/contexts/(?P<key>[^/]+)/?$")
_MESSAGES = re.compile(r"^/portfolio/api/v1/chat/contexts/(?P<key>[^/]+)/messages/?$")


def error_payload(status: int, message: str) -> object:
    """Corps d'erreur de NestJS : {"statusCode", "message", "error"}."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # 420 (refus de débit possible du bac à sable) n'est pas un statut standard
        phrase = "Enhance Your Calm"
    return {"statusCode": status, "message": message, "error": phrase}


def context_key(rng) -> str:
    """Identifiant opaque d'un contexte : « ctx- » et 16 chiffres hexadécimaux tirés au hasard."""
    return f"ctx-{rng.getrandbits(64):016x}"


class BadRequest(Exception):
    """Paramètre invalide : 400."""


def _integer(query: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw) or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be an integer {bound}")
    return int(raw)


class WanzoSystem:
    """Données et routes de la doublure wanzo."""

    name = "wanzo"
    kinds = KINDS
    error_payload = staticmethod(error_payload)

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.store = ThreadStore(config, context_key)
        self.list_calls = 0
        self.drift_every = config.drift_every
        self.drift_contexts = config.drift_contexts
        self.drifted = 0  # contextes déplacés par la dérive depuis le lancement

    # ------------------------------------------------------------------ présentation

    def context(self, thread: Thread) -> dict:
        rng = rng_for(self.config.seed, "metadata", thread.index)
        metadata = {"portfolioId": f"port{rng.randrange(100, 999)}", "portfolioType": rng.choice(PORTFOLIO_TYPES)}
        if rng.random() < 0.5:
            metadata["companyId"] = f"comp{rng.randrange(100, 999)}"
        last = thread.posts[-1] if thread.posts else None
        return {
            "id": thread.key, "title": f"{thread.name or 'Analyse'} — portefeuille {metadata['portfolioId']}",
            "created_at": iso(thread.created), "updated_at": iso(thread.updated), "metadata": metadata,
            "messageCount": len(thread.posts),
            "lastMessage": None if last is None else {
                "content": last.content, "timestamp": iso(last.ts), "sender": self._sender(last)},
        }

    @staticmethod
    def _sender(post: Post) -> str:
        return "user" if post.customer else "assistant"

    def message(self, thread: Thread, post: Post, first: bool = False) -> dict:
        body: dict = {"id": post.token, "content": post.content, "timestamp": iso(post.ts),
                      "sender": self._sender(post), "contextId": thread.key}
        if first:
            body["metadata"] = self.context(thread)["metadata"]
        if not post.customer and post.number % 3 == 0:
            body["likes"] = post.number % 4
        return body

    def messages(self, thread: Thread) -> list[dict]:
        """Tous les messages d'un contexte, dans l'ordre de l'API."""
        return [self.message(thread, post, position == 0) for position, post in enumerate(thread.posts)]

    def ordered(self) -> list[Thread]:
        """Ordre de la liste : updated_at décroissant, puis id."""
        ranked = sorted(self.store.threads.values(), key=lambda thread: thread.key)
        return sorted(ranked, key=lambda thread: thread.updated, reverse=True)

    def truth(self) -> dict:
        threads = self.ordered()
        return {"conversations": [self.context(thread) for thread in threads],
                "messages": {thread.key: self.messages(thread) for thread in threads}}

    # ------------------------------------------------------------------ dérive

    def drift(self) -> list[str]:
        """Un message ajouté à quelques contextes de la seconde moitié de la liste : ils passent en tête."""
        ordered = self.ordered()
        if len(ordered) < 2:
            return []
        rng = rng_for(self.config.seed, "drift", self.list_calls)
        moved = [thread.key for thread in rng.sample(ordered[len(ordered) // 2:], min(self.drift_contexts, len(ordered) - len(ordered) // 2))]
        for key in moved:
            self.store.append(key, 1)
        self.drifted += len(moved)
        return moved

    # ------------------------------------------------------------------ routes

    def route(self, request: web.Request) -> tuple[str, str | None]:
        path = request.raw_path.split("?", 1)[0]
        found = _MESSAGES.match(path)
        if found:
            return "messages", unquote(found["key"])
        if _CONTEXTS.match(path):
            return "conversations", None
        return "other", None

    def authorize(self, request: web.Request) -> web.Response | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip() == self.config.effective_token:
            return None
        return json_response(401, {"error": "Unauthorized", "statusCode": 401})

    def plan(self, request: web.Request):
        """(contrôle d'accès, réponse à produire) ; une route inconnue répond 404 sans jeton."""
        path = request.raw_path.split("?", 1)[0]
        query = request.query
        if request.method == "GET":
            if _CONTEXTS.match(path):
                return self.authorize, (lambda: self._answer(lambda: self.list_contexts(query)))
            found = _MESSAGES.match(path)
            if found:
                key = unquote(found["key"])
                return self.authorize, (lambda: self._answer(lambda: self.list_messages(key, query)))
            found = _CONTEXT.match(path)
            if found:
                key = unquote(found["key"])
                return self.authorize, (lambda: self._answer(lambda: self.get_context(key)))
        message = f"Cannot {request.method} {path[len(_PREFIX):] or '/'}"
        return (lambda _request: None), (lambda: json_response(404, error_payload(404, message)))

    @staticmethod
    def _answer(produce) -> web.Response:
        try:
            payload = produce()
        except BadRequest as error:
            return json_response(400, error_payload(400, str(error)))
        except KeyError:
            return json_response(404, error_payload(404, "Chat context not found"))
        return json_response(200, payload)

    def list_contexts(self, query: Mapping[str, str]) -> dict:
        limit = _integer(query, "limit", CONTEXTS_DEFAULT, 1, LIMIT_MAX)
        offset = _integer(query, "offset", 0, 0, None)
        self.list_calls += 1
        if self.drift_every and self.list_calls % self.drift_every == 0:
            self.drift()
        threads = self.ordered()
        return {"contexts": [self.context(thread) for thread in threads[offset:offset + limit]],
                "total": len(threads), "limit": limit, "offset": offset}

    def get_context(self, key: str) -> dict:
        return self.context(self.store.get(key))

    def list_messages(self, key: str, query: Mapping[str, str]) -> dict:
        thread = self.store.get(key)
        limit = _integer(query, "limit", MESSAGES_DEFAULT, 1, LIMIT_MAX)
        positions = {post.token: position for position, post in enumerate(thread.posts)}
        low, high = 0, len(thread.posts)  # fenêtre [low, high) des messages admissibles
        for name in ("after", "before"):
            cursor = query.get(name)
            if cursor is None:
                continue
            if cursor not in positions:
                raise BadRequest(f"{name}: unknown message id")
            if name == "after":
                low = max(low, positions[cursor] + 1)
            else:
                high = min(high, positions[cursor])
        # Sans after, before seul donne la page qui précède juste le curseur.
        if "before" in query and "after" not in query:
            start = max(low, high - limit)
        else:
            start = low
        end = min(high, start + limit) if start < high else start
        every = self.messages(thread)
        has_more = end < len(every)
        return {"messages": every[start:end], "hasMore": has_more,
                "nextCursor": every[end]["id"] if has_more else None}
