"""Routes de l'API Crisp /v1 simulée : reconnaissance du chemin et réponses.

Les fonctions de route sont pures (jeu de données + paramètres -> résultat) ;
authentification, pannes et comptage sont l'affaire de server.py. Le chemin est
découpé sur sa forme brute puis décodé segment par segment, pour qu'un e-mail
encodé (%40, %2B, %2F...) arrive intact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import unquote

from .dataset import Dataset
from .defaults import PER_PAGE_DEFAULT, PER_PAGE_MAX, PER_PAGE_MIN
from .envelope import CrispError

_WEBSITE = r"^/v1/website/(?P<website_id>[^/]+)"


@dataclass(frozen=True)
class ApiResult:
    """Statut HTTP et contenu de `data` d'une réponse réussie."""

    status: int
    data: object


Handler = Callable[[Dataset, Mapping[str, str], Mapping[str, str]], ApiResult]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    kind: str  # messages | conversations | people | other (pour les compteurs)
    handler: Handler


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    params: dict[str, str]


def _integer(query: Mapping[str, str], name: str, default: int | None, low: int, high: int | None) -> int | None:
    """Paramètre entier borné ; 400 invalid_data sinon."""
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,16}", raw) or int(raw) < low or (high is not None and int(raw) > high):
        bounds = f"entre {low} et {high}" if high is not None else f"supérieur ou égal à {low}"
        raise CrispError("invalid_data", f"{name} doit être un entier {bounds}.")
    return int(raw)


def _flag(query: Mapping[str, str], name: str) -> bool:
    """Drapeau 0/1 de l'API (true/false tolérés) ; 400 invalid_data sinon."""
    raw = query.get(name, "0").lower()
    if raw not in ("0", "1", "true", "false"):
        raise CrispError("invalid_data", f"{name} doit valoir 0 ou 1.")
    return raw in ("1", "true")


def _page(params: Mapping[str, str], query: Mapping[str, str]) -> tuple[int, int]:
    page = _integer({"page": params["page"]}, "page", None, 1, None)
    per_page = _integer(query, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MIN, PER_PAGE_MAX)
    return page, per_page


def list_messages(data: Dataset, params: Mapping[str, str], query: Mapping[str, str]) -> ApiResult:
    """Lot de 40 messages ; 206 s'il en reste de plus anciens, 200 sinon."""
    before = _integer(query, "timestamp_before", None, 0, None)
    try:
        batch, more = data.message_batch(params["session_id"], before)
    except KeyError:
        raise CrispError("not_found", "Conversation introuvable.", "conversation") from None
    return ApiResult(206 if more else 200, batch)


def list_conversations(data: Dataset, params: Mapping[str, str], query: Mapping[str, str]) -> ApiResult:
    """Page de conversations, plus récemment actives d'abord ; [] au-delà de la fin."""
    page, per_page = _page(params, query)
    resolved = True if _flag(query, "filter_resolved") else False if _flag(query, "filter_not_resolved") else None
    try:
        conversations = data.conversation_page(
            page, per_page,
            include_empty=_flag(query, "include_empty"),
            resolved=resolved,
            date_start=query.get("filter_date_start"),
            date_end=query.get("filter_date_end"),
            order_created=_flag(query, "order_date_created"),
        )
    except ValueError:
        raise CrispError("invalid_data", "Date de filtre illisible (ISO 8601 attendu).") from None
    return ApiResult(200, conversations)


def get_conversation(data: Dataset, params: Mapping[str, str], query: Mapping[str, str]) -> ApiResult:
    try:
        return ApiResult(200, data.conversation(params["session_id"]))
    except KeyError:
        raise CrispError("not_found", "Conversation introuvable.", "conversation") from None


def get_profile(data: Dataset, params: Mapping[str, str], query: Mapping[str, str]) -> ApiResult:
    """Fiche par UUID ou par e-mail encodé dans l'URL (casse ignorée)."""
    profile = data.profile(params["people_id"])
    if profile is None:
        raise CrispError("not_found", "Personne introuvable.", "people")
    return ApiResult(200, profile)


def list_profiles(data: Dataset, params: Mapping[str, str], query: Mapping[str, str]) -> ApiResult:
    page, per_page = _page(params, query)
    first = (page - 1) * per_page
    return ApiResult(200, data.profiles()[first:first + per_page])


ROUTES = (
    Route("GET", re.compile(_WEBSITE + r"/conversation/(?P<session_id>[^/]+)/messages/?$"), "messages", list_messages),
    Route("GET", re.compile(_WEBSITE + r"/conversations/(?P<page>[^/]+)/?$"), "conversations", list_conversations),
    Route("GET", re.compile(_WEBSITE + r"/conversation/(?P<session_id>[^/]+)/?$"), "other", get_conversation),
    Route("GET", re.compile(_WEBSITE + r"/people/profile/(?P<people_id>[^/]+)/?$"), "people", get_profile),
    Route("GET", re.compile(_WEBSITE + r"/people/profiles/(?P<page>[^/]+)/?$"), "people", list_profiles),
)


def resolve(method: str, raw_path: str) -> RouteMatch | None:
    """Route correspondant à la méthode et au chemin brut (non décodé), ou None."""
    path = raw_path.split("?", 1)[0]
    for route in ROUTES:
        found = route.pattern.match(path)
        if found and method == route.method:
            return RouteMatch(route, {name: unquote(value) for name, value in found.groupdict().items()})
    return None
