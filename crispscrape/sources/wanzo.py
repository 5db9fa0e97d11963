"""Wanzo : la discussion du portefeuille Wanzo (docs/sources.md).

- liste : ``GET {base}/chat/contexts?limit=&offset=`` → ``{"contexts", "total", ...}``, la
  plus récemment mise à jour d'abord (l'ordre bouge pendant le parcours : voir paging.py) ;
- messages : ``GET {base}/chat/contexts/{id}/messages?limit=[&after=ID]`` →
  ``{"messages", "hasMore", "nextCursor"}``. Lecture du document (le client doit survivre à
  une erreur de lecture) : sans ``after``, la page la plus ancienne ; ``after`` strict. On
  repart du message le plus récent sur disque, puis de l'id du dernier message de chaque page
  (pas de ``nextCursor`` : s'il désigne le premier message de la page suivante, « après
  lui » le sauterait) ;
- fichiers : ``wanzo/contexts.jsonl`` et ``wanzo/messages/{id}.jsonl``, du plus récent au plus
  ancien par ``timestamp`` ; à timestamp égal, l'inverse de l'ordre de l'API (les id sont
  opaques et ne disent rien du temps).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from crispscrape.api import InvalidResponse
from crispscrape.sources.base import ChatConfig, MessageModel, Source, iso_time, short_marker


def _text_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


class WanzoModel(MessageModel):
    folder = "wanzo"
    listing_name = "contexts.jsonl"
    forward = True
    record_missing = True

    def conversation_id(self, obj: Any) -> str | None:
        return _text_id(obj.get("id")) if isinstance(obj, dict) else None

    def marker(self, obj: dict) -> str | None:
        return short_marker([obj.get("updated_at"), obj.get("messageCount")])

    def message_key(self, message: Any) -> Hashable | None:
        return _text_id(message.get("id")) if isinstance(message, dict) else None

    def order(self, message: dict) -> float:
        moment = iso_time(message.get("timestamp"))
        return float("-inf") if moment is None else moment

    def arrange(self, stored: dict, pending: dict, foreign: list[dict]) -> list[dict]:
        # L'ordre de l'API est l'inverse de celui du fichier, puis les reçus dans l'ordre de
        # réception (relue depuis le début, une conversation les a tous reçus : voir
        # MessageBatch.full_order) : un tri stable par timestamp, retourné, met les ex aequo
        # dans l'inverse de l'ordre de l'API, d'une exécution à l'autre.
        in_api_order = {key: stored[key] for key in reversed(stored) if key not in pending}
        in_api_order.update(pending)
        ordered = sorted([*reversed(foreign), *in_api_order.values()], key=self.order)
        ordered.reverse()
        return ordered


class WanzoSource(Source):
    name = "wanzo"
    label = "Wanzo"
    model = WanzoModel()
    url_name = "WANZO_API_URL"
    token_name = "WANZO_API_TOKEN"
    token_required = True
    example_url = "https://hôte/portfolio/api/v1"
    url_hint = "Elle doit être la base de l'API, par exemple https://hôte/portfolio/api/v1."
    fatal = {
        401: ("unauthorized", "Accès refusé par l'API Wanzo (HTTP 401) : vérifiez "
                              "WANZO_API_TOKEN."),
        403: ("forbidden", "Accès interdit par l'API Wanzo (HTTP 403) : le jeton WANZO_API_TOKEN "
                           "n'a pas les droits nécessaires."),
    }
    list_limit = 50
    messages_limit = 100

    def list_url(self, config: ChatConfig, offset: int) -> str:
        return config.url("chat", "contexts", limit=self.list_limit, offset=offset)

    def read_list(self, payload: dict) -> tuple[list, int | None]:
        contexts, total = payload.get("contexts"), payload.get("total")
        if not isinstance(contexts, list):
            raise InvalidResponse("invalid_data", "liste sans « contexts »")
        return contexts, total if isinstance(total, int) and not isinstance(total, bool) else None

    def first_page(self, stored_keys: list) -> dict:
        # Le premier du fichier est le dernier reçu de l'API (voir WanzoModel.arrange).
        return {"after": stored_keys[0] if stored_keys else None}

    def messages_url(self, config: ChatConfig, conversation_id: str, page: dict) -> str:
        return config.url("chat", "contexts", conversation_id, "messages",
                          limit=self.messages_limit, after=page["after"])

    def read_messages(self, payload: dict, page: dict) -> tuple[list, dict | None]:
        messages = payload.get("messages")
        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and self.model.message_key(m) is not None for m in messages):
            raise InvalidResponse("invalid_message", "messages sans « messages » ou sans id")
        more = payload.get("hasMore") is True and bool(messages)
        return messages, {"after": messages[-1]["id"]} if more else None

    @staticmethod
    def expected_count(conversation: dict) -> int | None:
        count = conversation.get("messageCount")
        return count if isinstance(count, int) and not isinstance(count, bool) else None


WANZO = WanzoSource()
