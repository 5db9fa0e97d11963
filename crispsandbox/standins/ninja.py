"""Doublure de la discussion client Django + Django Ninja (base /api).

Routes (specs/other-chat-api-django.md et issue 11) :
- GET /api/conversation/?limit=&offset= -> {"items": [...], "count": N} ; ordre non garanti ;
- GET /api/messages/{uuid}/[?since=ID][&limit=&offset=] -> {"items": [...], "count": n},
  du plus ancien au plus récent (id), since strict, count avant limit/offset.
Comportements de Django reproduits : jeton Bearer facultatif (401 {"detail": "Unauthorized"}),
422 de validation des paramètres entiers (forme pydantic), 301 vers le chemin avec la barre
oblique finale (CommonMiddleware, avant la vue donc avant le jeton), 404 {"detail": "Not Found"}
d'une conversation inconnue, page HTML 404 d'une route inconnue.
"""

from __future__ import annotations

import hashlib
import re
from typing import Mapping
from urllib.parse import unquote

from aiohttp import web

from ..envelope import json_response, raw_response
from ..seeds import rng_for, uuid_from
from .config import StandinConfig, iso
from .corpus import Post, Thread, ThreadStore

KINDS = ("conversations", "messages", "other")
PAGE_DEFAULT = 100  # PAGINATION_PER_PAGE de Django Ninja
_LIST = re.compile(r"^/api/conversation(?P<slash>/?)$")
_MESSAGES = re.compile(r"^/api/messages/(?P<key>[^/]+)(?P<slash>/?)$")
_DJANGO_404 = (b'<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
               b'  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n')


def error_payload(status: int, message: str) -> object:
    """Corps des refus de débit et des 500 simulés : la forme {"detail": …} de Django Ninja."""
    return {"detail": message}


class Unprocessable(Exception):
    """Paramètres invalides : 422 avec la liste d'erreurs de pydantic."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__("paramètres invalides")
        self.errors = errors


def _integers(query: Mapping[str, str], spec: dict[str, tuple[int | None, int]]) -> dict[str, int | None]:
    """Paramètres entiers {nom: (défaut, minimum)} ; Unprocessable avec toutes les erreurs."""
    values: dict[str, int | None] = {}
    errors = []
    for name, (default, minimum) in spec.items():
        raw = query.get(name)
        if raw is None:
            values[name] = default
            continue
        loc = ["query", name]
        if not re.fullmatch(r"\s*[+-]?\d+\s*", raw):
            errors.append({"type": "int_parsing", "loc": loc,
                           "msg": "Input should be a valid integer, unable to parse string as an integer"})
        elif int(raw) < minimum:
            errors.append({"type": "greater_than_equal", "loc": loc,
                           "msg": f"Input should be greater than or equal to {minimum}", "ctx": {"ge": minimum}})
        else:
            values[name] = int(raw)
    if errors:
        raise Unprocessable(errors)
    return values


def _last_values(request: web.Request) -> dict[str, str]:
    """QueryDict.get de Django : la dernière valeur d'un paramètre répété."""
    return {name: request.query.getall(name)[-1] for name in request.query}


class NinjaSystem:
    """Données et routes de la doublure ninja."""

    name = "ninja"
    kinds = KINDS
    error_payload = staticmethod(error_payload)

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.store = ThreadStore(config, uuid_from)
        self.list_calls = 0

    # ------------------------------------------------------------------ présentation

    def conversation(self, thread: Thread) -> dict:
        """Objet de la liste ; « id » au lieu de « uuid », « updated » absent selon les options."""
        use_id = thread.shape[0] < self.config.id_ratio
        no_updated = thread.shape[1] < self.config.no_updated_ratio
        body: dict = {"id" if use_id else "uuid": thread.key, "name": thread.name, "email": thread.email,
                      "created": iso(thread.created)}
        if not no_updated:
            body["updated"] = iso(thread.updated)
        return body

    @staticmethod
    def message(thread: Thread, post: Post) -> dict:
        return {"conversation": thread.key, "id": post.number, "date": iso(post.ts), "content": post.content,
                "author": "CUS" if post.customer else "AGE"}

    def truth(self) -> dict:
        """Vérité : conversations dans l'ordre de création, messages dans l'ordre de l'API."""
        threads = list(self.store.threads.values())
        return {"conversations": [self.conversation(thread) for thread in threads],
                "messages": {thread.key: [self.message(thread, post) for post in thread.posts] for thread in threads}}

    def _listing_order(self) -> list[Thread]:
        """Ordre sans ORDER BY : change avec les données (hash) ou à chaque appel (shuffle)."""
        threads = list(self.store.threads.values())
        if self.config.list_order == "shuffle":
            rng_for(self.config.seed, "order", self.list_calls).shuffle(threads)
            return threads

        def scramble(thread: Thread) -> str:
            mark = f"{self.config.seed}:{thread.key}:{thread.updated}:{len(thread.posts)}"
            return hashlib.sha256(mark.encode("utf-8")).hexdigest()

        return sorted(threads, key=scramble)

    # ------------------------------------------------------------------ routes

    def route(self, request: web.Request) -> tuple[str, str | None]:
        """(nature, conversation visée) pour les compteurs."""
        path = request.raw_path.split("?", 1)[0]
        found = _MESSAGES.match(path)
        if found and found["slash"]:
            return "messages", unquote(found["key"])
        if _LIST.match(path) and path.endswith("/"):
            return "conversations", None
        return "other", None

    def authorize(self, request: web.Request) -> web.Response | None:
        """HttpBearer de Django Ninja : schéma insensible à la casse, jeton exact."""
        token = self.config.effective_token
        if token is None:
            return None
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip() == token:
            return None
        return json_response(401, {"detail": "Unauthorized"})

    def plan(self, request: web.Request):
        """(contrôle d'accès, réponse à produire) : la redirection passe avant la vue et son jeton."""
        path = request.raw_path.split("?", 1)[0]
        found_list, found_messages = _LIST.match(path), _MESSAGES.match(path)
        found = found_list or found_messages
        if found is None:
            return (lambda _request: None), (lambda: raw_response(404, _DJANGO_404, "text/html; charset=utf-8"))
        if not found["slash"]:
            query = request.raw_path.partition("?")[2]
            location = path + "/" + (f"?{query}" if query else "")
            return (lambda _request: None), (lambda: web.Response(status=301, headers={"Location": location}))
        if request.method != "GET":
            return self.authorize, (lambda: json_response(405, {"detail": "Method not allowed"}))
        if found_list:
            return self.authorize, (lambda: self._answer(self.list_conversations, request))
        key = unquote(found["key"])
        return self.authorize, (lambda: self._answer(lambda query: self.list_messages(key, query), request))

    @staticmethod
    def _answer(produce, request: web.Request) -> web.Response:
        try:
            status, payload = produce(_last_values(request))
        except Unprocessable as error:
            return json_response(422, {"detail": error.errors})
        return json_response(status, payload)

    def list_conversations(self, query: Mapping[str, str]) -> tuple[int, object]:
        values = _integers(query, {"limit": (PAGE_DEFAULT, 1), "offset": (0, 0)})
        self.list_calls += 1
        threads = self._listing_order()
        offset, limit = values["offset"] or 0, values["limit"] or PAGE_DEFAULT
        page = threads[offset:offset + limit]
        return 200, {"items": [self.conversation(thread) for thread in page], "count": len(threads)}

    def list_messages(self, key: str, query: Mapping[str, str]) -> tuple[int, object]:
        values = _integers(query, {"since": (None, 0), "limit": (PAGE_DEFAULT, 1), "offset": (0, 0)})
        thread = self.store.threads.get(key)
        if thread is None:
            return 404, {"detail": "Not Found"}
        since = values["since"]
        matching = [post for post in thread.posts if since is None or post.number > since]
        offset, limit = values["offset"] or 0, values["limit"] or PAGE_DEFAULT
        page = matching[offset:offset + limit]
        return 200, {"items": [self.message(thread, post) for post in page], "count": len(matching)}
