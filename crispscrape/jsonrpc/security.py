"""Règles de sécurité du service JSON-RPC : masquage des secrets et contrôle d'accès.

Le service tourne dans le processus qui détient les identifiants Crisp ; tout
ce qu'il renvoie doit donc être pensé comme lisible par un tiers.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from twisted.web.http import combinedLogFormatter

from crispscrape import config

MASK = "***"
# Un nom de réglage (ou de clé imbriquée) qui contient l'un de ces mots est secret.
SECRET_NAME_PARTS = ("KEY", "IDENTIFIER", "TOKEN", "PASSWORD", "SECRET", "AUTH")
# Les noms viennent de la table des identifiants (crispscrape/config.py).
SECRET_NAMES = frozenset(config.SECRET_NAMES)
# Paires (identifiant, clé) qui forment l'en-tête « Authorization: Basic ... ».
IDENTIFIER_NAMES = config.credential_names(config.IDENTIFIER)
KEY_NAMES = config.credential_names(config.KEY)
# En dessous de cette longueur, chercher une valeur dans les réponses ferait
# masquer n'importe quoi (un secret « 1 » masquerait tous les compteurs).
MIN_SECRET_LENGTH = 6
LOOPBACK_NAMES = frozenset({"localhost"})
# En dessous, un jeton se devine trop facilement : on prévient sans bloquer.
MIN_TOKEN_LENGTH = 16

logger = logging.getLogger(__name__)


class JsonRpcConfigurationError(Exception):
    """Configuration JSON-RPC dangereuse : le crawl ne doit pas démarrer."""


def is_secret_name(name: Any) -> bool:
    """Dit si une valeur rangée sous ce nom doit être masquée."""
    if not isinstance(name, str):
        return False
    upper = name.upper()
    return upper in SECRET_NAMES or any(part in upper for part in SECRET_NAME_PARTS)


def is_loopback(host: str) -> bool:
    """Vrai pour une adresse de boucle locale (127.0.0.0/8, ::1) ou « localhost »."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SecretRedactor:
    """Masque les secrets : par nom de clé, et par valeur connue où qu'elle apparaisse."""

    def __init__(self, secret_values: Iterable[str]) -> None:
        values = {v for v in secret_values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
        # Les plus longues d'abord : inutile, mais rend l'ordre déterministe.
        self._values = tuple(sorted(values, key=len, reverse=True))

    @classmethod
    def from_crawler(cls, crawler: Any, environ: Mapping[str, str] | None = None) -> SecretRedactor:
        environ = os.environ if environ is None else environ
        return cls(_collect_secret_values(crawler.settings, environ))

    def contains_secret(self, text: str) -> bool:
        return any(value in text for value in self._values)

    def redact(self, obj: Any) -> Any:
        """Copie de ``obj`` où toute chaîne contenant un secret connu devient ``***``."""
        if isinstance(obj, str):
            return MASK if self.contains_secret(obj) else obj
        if isinstance(obj, (bytes, bytearray)):
            return MASK if self.contains_secret(bytes(obj).decode("utf-8", "replace")) else obj
        if isinstance(obj, Mapping):
            return {self.redact(k): self.redact(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple, set, frozenset)):
            return [self.redact(x) for x in obj]
        return obj

    def redact_setting(self, name: str, value: Any) -> Any:
        """Valeur d'un réglage telle qu'on peut la montrer."""
        if is_secret_name(name):
            return MASK
        return self.redact(_mask_secret_keys(value))


def _mask_secret_keys(value: Any) -> Any:
    """Masque, dans un dict imbriqué, les valeurs rangées sous un nom secret.

    Les clés pointées (chemins de classes comme
    ``scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware``) ne sont pas
    des noms d'identifiants : on ne les masque pas, sinon les réglages de
    composants deviendraient illisibles.
    """
    if isinstance(value, Mapping):
        return {
            k: MASK if (is_secret_name(k) and "." not in k) else _mask_secret_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_mask_secret_keys(x) for x in value]
    return value


def _collect_secret_values(settings: Any, environ: Mapping[str, str]) -> set[str]:
    """Rassemble les valeurs à ne jamais renvoyer, d'où qu'elles viennent."""
    found: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value:
            found.add(value)
            # « Basic xxx » / « Bearer xxx » : le jeton seul est aussi un secret.
            scheme, _, credential = value.partition(" ")
            if credential and scheme.lower() in {"basic", "bearer", "token"}:
                found.add(credential)

    def walk(name: Any, value: Any) -> None:
        if is_secret_name(name):
            if isinstance(value, (list, tuple)):
                for item in value:
                    add(item)
            else:
                add(value)
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(key, item)

    for name, value in settings.copy_to_dict().items():
        walk(name, value)
        if isinstance(value, str) and value.startswith("{"):
            # Réglage passé en JSON avec -s (ex. DEFAULT_REQUEST_HEADERS).
            try:
                walk(name, settings.getdict(name))
            except (ValueError, TypeError):
                pass
    for name in SECRET_NAMES:
        add(environ.get(name))

    # L'en-tête envoyé à Crisp n'est ni l'identifiant ni la clé, mais leur
    # concaténation en base64 : on le calcule pour pouvoir le reconnaître.
    identifiers = {str(v) for n in IDENTIFIER_NAMES for v in (settings.get(n), environ.get(n)) if v}
    keys = {str(v) for n in KEY_NAMES for v in (settings.get(n), environ.get(n)) if v}
    for identifier in identifiers:
        for key in keys:
            found.add(base64.b64encode(f"{identifier}:{key}".encode()).decode("ascii"))
    return found


class AccessPolicy:
    """Décide si une requête HTTP peut atteindre le service."""

    def __init__(self, host: str, token: str | None) -> None:
        self.host = "127.0.0.1" if host.lower() == "localhost" else host
        self.loopback = is_loopback(host)
        self._token = str(token).encode("utf-8") if token else None
        if not self.loopback and self._token is None:
            raise JsonRpcConfigurationError(
                f"JSON-RPC : JSONRPC_HOST vaut {host!r}, une adresse joignable depuis le réseau. "
                "Définissez un jeton secret avec JSONRPC_TOKEN (il sera exigé à chaque requête), "
                "ou gardez JSONRPC_HOST = '127.0.0.1'. Le crawl n'a pas été démarré."
            )
        if self._token is not None and len(self._token) < MIN_TOKEN_LENGTH:
            logger.warning(
                "JSON-RPC : JSONRPC_TOKEN est court (moins de %d caractères) ; "
                "préférez par exemple : python -c \"import secrets; print(secrets.token_urlsafe(32))\"",
                MIN_TOKEN_LENGTH,
            )

    @classmethod
    def from_crawler(cls, crawler: Any) -> AccessPolicy:
        settings = crawler.settings
        host = str(settings.get("JSONRPC_HOST") or "127.0.0.1")
        return cls(host, settings.get("JSONRPC_TOKEN") or None)

    @property
    def token_required(self) -> bool:
        return self._token is not None

    def refusal(self, txrequest: Any) -> tuple[int, str] | None:
        """``None`` si la requête est admise, sinon (code HTTP, raison en français)."""
        headers = txrequest.requestHeaders
        # Un navigateur signe ses requêtes inter-sites avec Origin / Sec-Fetch-Site :
        # sans ce refus, n'importe quelle page web ouverte sur le poste pourrait
        # piloter le crawl (une requête POST « simple » ne demande aucun preflight).
        fetch_site = headers.getRawHeaders(b"sec-fetch-site", [b"none"])[0]
        if headers.hasHeader(b"origin") or fetch_site != b"none":
            return 403, "requêtes émises par une page web refusées"
        if self._token is not None:
            if not self._token_matches(txrequest):
                return 401, "jeton manquant ou invalide"
            return None
        # Sans jeton, seul le poste local est admis ; l'en-tête Host doit aussi
        # être local, sinon un nom DNS piégé (« DNS rebinding ») ouvrirait l'accès.
        if not is_loopback(_host_without_port(txrequest.getHeader(b"host") or b"")):
            return 403, "en-tête Host non local"
        return None

    def _token_matches(self, txrequest: Any) -> bool:
        assert self._token is not None
        candidates = []
        authorization = txrequest.getHeader(b"authorization") or b""
        scheme, _, credential = authorization.partition(b" ")
        if scheme.lower() == b"bearer":
            candidates.append(credential.strip())
        candidates.extend(txrequest.args.get(b"token", []))
        # Comparaison en temps constant : la durée ne révèle pas le préfixe juste.
        return any(hmac.compare_digest(c, self._token) for c in candidates)


def _host_without_port(host: bytes) -> str:
    text = host.decode("latin-1").strip()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        return text.partition(":")[0]
    return text


_TOKEN_IN_URI = re.compile(rb"([?&]token=)[^&]*")


class _UriRedactedRequest:
    """Vue d'une requête dont l'URI ne montre plus le jeton (?token=***)."""

    def __init__(self, txrequest: Any) -> None:
        self._txrequest = txrequest
        self.uri = _TOKEN_IN_URI.sub(rb"\1***", txrequest.uri)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._txrequest, name)


def access_log_formatter(timestamp: str, txrequest: Any) -> str:
    """Format « combined » de Twisted, sans le jeton passé dans l'URL (JSONRPC_LOGFILE)."""
    return combinedLogFormatter(timestamp, _UriRedactedRequest(txrequest))
