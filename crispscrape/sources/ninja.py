"""Ninja : la discussion client Django + Django Ninja (docs/sources.md).

- liste : ``GET {base}/conversation/?limit=&offset=`` → ``{"items", "count"}``, ordre non
  garanti ; une conversation a ``uuid`` (``id`` à défaut), peut-être ``updated`` ;
- messages : ``GET {base}/messages/{uuid}/?since=ID&limit=&offset=`` → ``{"items", "count"}``,
  du plus ancien au plus récent ; ``since`` = le plus grand id déjà sur disque ; ``count`` =
  messages après ``since``, paginés par ``offset`` (stable : les nouveaux arrivent à la fin) ;
- fichiers : ``ninja/conversations.jsonl`` et ``ninja/messages/{uuid}.jsonl``, du plus récent
  au plus ancien par (date, id).

Les URL finissent par « / » : Django redirige (301) sinon, un appel de perdu.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from crispscrape.api import InvalidResponse
from crispscrape.sources.base import ChatConfig, MessageModel, Source, iso_time, short_marker


def _int_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class NinjaModel(MessageModel):
    folder = "ninja"
    listing_name = "conversations.jsonl"
    forward = True
    record_missing = True

    def conversation_id(self, obj: Any) -> str | None:
        if not isinstance(obj, dict):
            return None
        uuid = obj.get("uuid")
        if isinstance(uuid, str) and uuid.strip():
            return uuid
        ident = obj.get("id")
        if _int_id(ident) is not None or isinstance(ident, str) and ident.strip():
            return str(ident)
        return None

    def marker(self, obj: dict) -> str | None:
        # Sans « updated », on ne sait pas : la conversation coûte un appel (since = dernier id).
        updated = obj.get("updated")
        return short_marker([updated]) if updated else None

    def message_key(self, message: Any) -> Hashable | None:
        return _int_id(message.get("id")) if isinstance(message, dict) else None

    def order(self, message: dict) -> tuple[float, int]:
        moment = iso_time(message.get("date"))
        ident = _int_id(message.get("id"))
        return (float("-inf") if moment is None else moment, -1 if ident is None else ident)


class NinjaSource(Source):
    name = "ninja"
    label = "Ninja"
    model = NinjaModel()
    url_name = "NINJA_API_URL"
    token_name = "NINJA_API_TOKEN"
    example_url = "http://hôte:8000/api"
    url_hint = "Elle doit être la base de l'API, par exemple http://hôte:8000/api."
    fatal = {
        401: ("unauthorized", "Accès refusé par l'API Ninja (HTTP 401) : vérifiez NINJA_API_TOKEN."),
        403: ("forbidden", "Accès interdit par l'API Ninja (HTTP 403) : le jeton NINJA_API_TOKEN "
                           "n'a pas les droits nécessaires."),
    }
    list_limit = 100
    messages_limit = 100

    def list_url(self, config: ChatConfig, offset: int) -> str:
        return config.url("conversation", trailing_slash=True, limit=self.list_limit,
                          offset=offset)

    def read_list(self, payload: dict) -> tuple[list, int | None]:
        items, count = payload.get("items"), payload.get("count")
        if not isinstance(items, list):
            raise InvalidResponse("invalid_data", "liste sans « items »")
        return items, _int_id(count)

    def first_page(self, stored_keys: list) -> dict:
        # Le plus grand id sur disque : « since » ne renvoie que les suivants.
        ids = [key for key in stored_keys if isinstance(key, int)]
        return {"since": max(ids) if ids else None, "offset": 0}

    def messages_url(self, config: ChatConfig, conversation_id: str, page: dict) -> str:
        return config.url("messages", conversation_id, trailing_slash=True, since=page["since"],
                          limit=self.messages_limit, offset=page["offset"] or None)

    def read_messages(self, payload: dict, page: dict) -> tuple[list, dict | None]:
        items, count = payload.get("items"), _int_id(payload.get("count"))
        if not isinstance(items, list) or not all(
                isinstance(m, dict) and self.model.message_key(m) is not None for m in items):
            raise InvalidResponse("invalid_message", "messages sans « items » ou sans id entier")
        offset = page["offset"] + len(items)
        more = bool(items) and (len(items) >= self.messages_limit if count is None
                                else offset < count)
        return items, {"since": page["since"], "offset": offset} if more else None


NINJA = NinjaSource()
