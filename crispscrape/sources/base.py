"""Ce qu'un système de discussion doit dire au cœur commun : configuration, accès, modèle.

Le cœur ne connaît aucun système : il reçoit un ``Source`` (araignée, middlewares) et son
``MessageModel`` (magasin des messages, dédoublonnage, sélection).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from crispscrape.config import ConfigError, data_dir_of, lookup
from crispscrape.storage.files import safe_name


class MessageModel:
    """Les objets d'un système tels que les fichiers les gardent (fonctions pures).

    Les sous-classes fixent les noms de fichiers et redéfinissent ce qui diffère.
    """

    # Répertoire de l'export sous CRISP_DATA_DIR, fichier de la liste des conversations.
    folder = "conversations"
    listing_name = "conversations.jsonl"
    # Message en français si la liste manque au démarrage de l'export des messages (None :
    # la liste est relevée dans la même exécution, son absence n'est pas une erreur).
    missing_listing: str | None = None
    # Vrai si la pagination part du plus récent message connu vers le plus récent de l'API :
    # un fichier partiel est alors toujours d'un seul tenant (aucun trou à craindre).
    forward = False
    # Vrai si un 404 sur une conversation listée dans la même exécution est noté comme
    # fait : l'URL de l'API est déjà prouvée par la liste, redemander coûterait un appel
    # à chaque exécution pour une conversation supprimée.
    record_missing = False

    def unwrap(self, line_object: Any) -> Any:
        """L'objet conversation d'une ligne de la liste (tel quel, sauf enveloppe connue)."""
        return line_object

    def conversation_id(self, obj: Any) -> str | None:
        raise NotImplementedError

    def file_name(self, conversation_id: str) -> str | None:
        """Nom du fichier de messages d'une conversation : l'identifiant lui-même s'il peut
        servir de nom, sinon « ~ » et une empreinte (un identifiant hostile — ``../x``, ``/``,
        NUL, trop long — ne choisit jamais où l'on écrit ; la liste garde l'identifiant)."""
        if safe_name(conversation_id):
            return conversation_id + ".jsonl"
        digest = hashlib.blake2b(conversation_id.encode("utf-8", "surrogatepass"),
                                 digest_size=16).hexdigest()
        return f"~{digest}.jsonl"

    def marker(self, obj: dict) -> str | None:
        """Empreinte de l'activité montrée par la liste (None : inconnue, toujours demander)."""
        return None

    def activity(self, obj: dict) -> int | None:
        """Dernière activité (ms) pour la fenêtre de revérification (None : hors fenêtre)."""
        return None

    def email(self, obj: dict) -> str | None:
        return None

    def message_key(self, message: Any) -> Hashable | None:
        """Identifiant de dédoublonnage d'un message (None : ligne gardée telle quelle)."""
        raise NotImplementedError

    def order(self, message: dict) -> Any:
        """Clé de tri d'un fichier (trié avec ``reverse=True`` : du plus récent au plus ancien)."""
        raise NotImplementedError

    def arrange(self, stored: dict, pending: dict, foreign: list[dict]) -> list[dict]:
        """Messages d'un fichier dans leur ordre final. ``stored`` : ceux du fichier, par
        clé, dans l'ordre du fichier ; ``pending`` : reçus (nouveaux ou modifiés), par clé,
        dans l'ordre de réception ; ``foreign`` : lignes sans clé, gardées telles quelles."""
        return sorted([*{**stored, **pending}.values(), *foreign], key=self.order, reverse=True)

    def partial_marker(self, messages: Iterable[dict]) -> int | None:
        """Ce que l'état retient d'un fichier partiel (``incomplete``, docs/messages.md)."""
        return None


def iso_time(value: Any) -> float | None:
    """Instant (secondes) d'une date ISO 8601 (« Z » accepté) ; None si illisible."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        # Sans fuseau : lue comme UTC, pour un ordre stable quel que soit le poste.
        from datetime import timezone
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def short_marker(parts: list) -> str:
    """Empreinte courte (16 hex) de quelques champs de la liste."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class ChatConfig:
    """Valeurs non secrètes d'un export : URL de l'API et répertoire de données."""

    api_url: str
    data_dir: Path

    def url(self, *parts: str, trailing_slash: bool = False, **query: Any) -> str:
        """{api}/{parts...}[/]?query ; chaque partie est encodée (un identifiant hostile ne
        change pas de route), les paramètres None sont omis."""
        path = "/".join([self.api_url, *(quote(str(part), safe="") for part in parts)])
        if trailing_slash:
            path += "/"
        params = {key: value for key, value in query.items() if value is not None}
        return f"{path}?{urlencode(params)}" if params else path


class Source:
    """Un système de discussion vu par le cœur ; voir crisp.py, ninja.py, wanzo.py."""

    name = ""
    label = ""
    model: MessageModel
    # Noms des réglages / variables : URL de l'API, jeton (None : pas de jeton).
    url_name = ""
    token_name: str | None = None
    token_required = False
    example_url = ""
    # Ce que doit être l'URL, si l'API répond 404 à la première requête.
    url_hint = ""
    # Messages des refus d'accès (arrêt immédiat).
    fatal: dict[int, tuple[str, str]] = {}

    def fatal_message(self, status: int, reason: str, config) -> tuple[str, str] | None:
        """(raison de fin, message) d'un refus d'accès, ou None si ce statut n'en est pas un."""
        known = self.fatal.get(status)
        return None if known is None else (known[0], known[1].format(reason=reason))

    def config(self, settings, environ=None, website: str | None = None) -> ChatConfig:
        """``website`` : propre à Crisp (-a website=ID), sans effet ici."""
        environ = os.environ if environ is None else environ
        api_url = lookup(self.url_name, settings, environ).rstrip("/")
        if not api_url:
            raise ConfigError(f"{self.url_name} manquante : définissez la variable "
                              f"d'environnement {self.url_name} (par exemple "
                              f"{self.example_url}). Aucun appel n'a été fait, aucun fichier "
                              "n'a été touché.")
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{self.url_name}={api_url!r} n'est pas une adresse web complète "
                              f"(par exemple {self.example_url}). Aucun appel n'a été fait.")
        if self.token_required and not self._token(settings, environ):
            raise ConfigError(f"{self.token_name} manquant : définissez la variable "
                              f"d'environnement {self.token_name} (jeton d'accès {self.label}). "
                              "Aucun appel n'a été fait, aucun fichier n'a été touché.")
        return ChatConfig(api_url, data_dir_of(settings, environ))

    def _token(self, settings, environ) -> str:
        return lookup(self.token_name, settings, environ) if self.token_name else ""

    def headers(self, settings, environ=None, website: str | None = None) -> dict[bytes, bytes]:
        """En-têtes d'accès, posés par le middleware d'authentification seul, au départ."""
        environ = os.environ if environ is None else environ
        token = self._token(settings, environ)
        return {b"Authorization": b"Bearer " + token.encode()} if token else {}

    def parse(self, response, expected_type) -> Any:
        """Le contenu d'une réponse réussie (InvalidResponse sinon)."""
        from crispscrape.api import parse_json
        return parse_json(response, expected_type)

    def error_reason(self, response) -> str:
        return ""

    # Pagination des systèmes « en avant » (voir spiders/chat.py, paging.py).
    list_limit = 100

    def list_url(self, config: ChatConfig, offset: int) -> str:
        raise NotImplementedError

    def read_list(self, payload: dict) -> tuple[list, int | None]:
        """(conversations de la page, total annoncé ou None) ; InvalidResponse sinon."""
        raise NotImplementedError

    def first_page(self, stored_keys: list) -> dict:
        """Première page d'une conversation, d'après les clés du fichier (dans son ordre)."""
        raise NotImplementedError

    def messages_url(self, config: ChatConfig, conversation_id: str, page: dict) -> str:
        raise NotImplementedError

    def read_messages(self, payload: dict, page: dict) -> tuple[list, dict | None]:
        """(messages de la page, page suivante ou None) ; InvalidResponse sinon."""
        raise NotImplementedError

    @staticmethod
    def expected_count(conversation: dict) -> int | None:
        """Nombre de messages que la liste annonce pour une conversation (None : inconnu)."""
        return None
