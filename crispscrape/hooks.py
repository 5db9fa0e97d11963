"""Les web hooks de Crisp, seconde entrée du direct : ``scrapy crawl live -a hooks=HÔTE:PORT``.

Un serveur aiohttp, sur la boucle asyncio de Scrapy (réacteur asyncio), dans le même
processus que la connexion RTM ; il écoute ``POST /hooks`` et nourrit le même journal.

Contrat (docs de Crisp, issue 22, docs/direct.md « Web hooks ») :

- corps : ``{"website_id", "event", "data", "timestamp"}`` (JSON, 1 Mio au plus) ;
- hooks de plugin : signés. ``X-Crisp-Signature`` = HMAC-SHA256 hexadécimal, clé
  ``CRISP_HOOK_SECRET``, de ``"[" + X-Crisp-Request-Timestamp + ";" + corps brut + "]"`` ;
- hooks de site : pas de signature, mais une valeur secrète ``?key=`` dans l'adresse du hook,
  égale à ``CRISP_HOOK_KEY``. Les deux réglages posés : l'une ou l'autre preuve suffit ; aucun
  des deux : le direct refuse de démarrer (jamais un point d'entrée ouvert).

Réponses : 200 seulement une fois l'événement journalisé (ou jeté exprès : inconnu, oublié,
autre site), pour que Crisp renvoie le hook si nous tombons avant ; 401 preuve absente ou
fausse (rien n'est journalisé) ; 400 corps trop gros ou illisible ; 500 journal impossible à
écrire (Crisp réessaiera).

Les secrets ne sont jamais écrits : ni journal d'accès d'aiohttp (il imprime la chaîne de
requête, donc ``?key=``), ni en-têtes, ni statistiques, ni messages d'erreur.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from aiohttp import web

from crispscrape.config import ConfigError, lookup
from crispscrape.console import console_extra

SECRET_SETTING, KEY_SETTING = "CRISP_HOOK_SECRET", "CRISP_HOOK_KEY"
SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Crisp-Signature", "X-Crisp-Request-Timestamp"
HOOK_PATH = "/hooks"
# Taille maximale d'un corps de hook (octets) ; au-delà : 400.
MAX_BODY = 1024 * 1024
# Refus de chaque sorte dits au plus ce nombre de fois (WARNING) ; la suite est comptée.
MAX_REFUSAL_LINES = 3
# Réponses du journal (spiders/live.py) acquittées par un 200.
ACKNOWLEDGED = frozenset({"journaled", "dropped"})

LoggerLike = logging.Logger | logging.LoggerAdapter


def parse_address(address: str) -> tuple[str, int]:
    """(hôte, port) de ``HÔTE:PORT`` (``[::1]:PORT`` pour IPv6) ; ConfigError en français."""
    host, sep, port = str(address).strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"-a hooks={address!r} invalide : HÔTE:PORT est attendu, avec un port "
                          "de 1 à 65535 (par exemple -a hooks=127.0.0.1:8787, derrière un "
                          "mandataire HTTPS : docs/direct.md). Aucun appel n'a été fait.")
    return host, int(port)


def hook_credentials(settings, environ=None) -> tuple[str, str]:
    """(secret de signature, clé d'adresse) : réglage -s, sinon variable d'environnement ;
    chaîne vide pour celui qui n'est pas donné."""
    environ = os.environ if environ is None else environ
    return lookup(SECRET_SETTING, settings, environ), lookup(KEY_SETTING, settings, environ)


def check_hooks(address: str, settings, environ=None) -> tuple[str, int]:
    """Vérifie ``-a hooks`` avant tout appel : adresse HÔTE:PORT, et au moins une preuve
    (CRISP_HOOK_SECRET ou CRISP_HOOK_KEY). ConfigError (en français, sans aucun secret)
    sinon ; rend (hôte, port)."""
    host, port = parse_address(address)
    secret, key = hook_credentials(settings, environ)
    if not secret and not key:
        raise ConfigError(f"Web hooks (-a hooks={address}) : ni {SECRET_SETTING} ni {KEY_SETTING} "
                          "n'est défini ; le récepteur refuse d'écouter sans preuve (jamais un "
                          f"point d'entrée ouvert). Définissez {SECRET_SETTING} (le secret des "
                          f"hooks de plugin, qui les signe) et/ou {KEY_SETTING} (la valeur "
                          "?key= des hooks de site) : docs/direct.md. Aucun appel n'a été fait.")
    return host, port


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Signature d'un hook de plugin : HMAC-SHA256 hexadécimal de ``[timestamp;corps]``."""
    message = b"[" + timestamp.encode("utf-8") + b";" + body + b"]"
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    """Comparaison en temps constant, sur les octets."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "surrogateescape"))


def signature_ok(secret: str, headers, body: bytes) -> bool:
    """Vrai si ``secret`` est posé et que la signature de la requête est la bonne pour ce
    corps brut ; faux si la signature ou l'horodatage manque."""
    given, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not secret or not given or timestamp is None:
        return False
    return _same(signature(secret, timestamp, body), given.strip().lower())


def key_ok(key: str, query) -> bool:
    """Vrai si ``key`` est posée et que ``?key=`` lui est égale."""
    given = query.get("key")
    return bool(key) and given is not None and _same(key, given)


def authorized(secret: str, key: str, headers, query, body: bytes) -> bool:
    """L'une des deux preuves suffit : signature (hook de plugin) ou ``?key=`` (hook de site)."""
    return signature_ok(secret, headers, body) or key_ok(key, query)


class BadHook(ValueError):
    """Corps de hook inutilisable : le message (en français) est rendu avec le 400."""


def parse_hook(body: bytes) -> dict:
    """Le corps d'un hook : un objet JSON avec ``event`` (texte) et ``data`` (objet)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadHook("corps JSON illisible") from None
    if not isinstance(payload, dict):
        raise BadHook("un objet JSON est attendu")
    if not isinstance(payload.get("event"), str) or not payload["event"]:
        raise BadHook("champ « event » absent ou vide")
    if not isinstance(payload.get("data"), dict):
        raise BadHook("champ « data » absent ou qui n'est pas un objet")
    return payload


class HookServer:
    """Le récepteur : ``start()`` écoute, ``stop()`` ferme (le port est libéré).

    ``on_event(nom, données)`` journalise (fsync) et rend ``journaled``, ``dropped`` ou
    ``failed``. ``website_id`` : si donné, un hook d'un autre site est acquitté (200), compté
    (``hooks/foreign_website``) et jeté. ``stats`` : le collecteur de statistiques de Scrapy."""

    def __init__(self, host: str, port: int, secret: str, key: str,
                 on_event: Callable[[str, dict], str], logger: LoggerLike, *,
                 website_id: str | None = None, stats: Any = None):
        self.host, self.port = host, port
        # Les preuves attendues ne vivent que dans la fermeture de la vérification.
        self._authorized = lambda headers, query, body: authorized(secret, key, headers, query,
                                                                   body)
        self.on_event, self.logger = on_event, logger
        self.website_id, self.stats = website_id, stats
        self.runner: web.AppRunner | None = None
        self._stopping = False
        self._refusals: dict[str, int] = {}

    @classmethod
    def from_settings(cls, address: str, settings, on_event: Callable[[str, dict], str],
                      logger: LoggerLike, *, website_id: str | None = None,
                      stats: Any = None, environ=None) -> HookServer:
        host, port = check_hooks(address, settings, environ)
        secret, key = hook_credentials(settings, environ)
        return cls(host, port, secret, key, on_event, logger, website_id=website_id, stats=stats)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{HOOK_PATH}"

    async def start(self) -> bool:
        """Écoute ``POST /hooks`` ; faux (erreur dite en français) si le port est pris ou
        l'adresse inutilisable."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(HOOK_PATH, self.handle)
        # Pas de journal d'accès : il imprimerait la chaîne de requête, donc ?key=.
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            self.logger.error("Web hooks : impossible d'écouter sur %s:%s (%s) ; aucun hook ne "
                              "sera reçu.", self.host, self.port, exc.strerror or exc)
            return False
        if self._stopping:  # stop() appelé pendant le démarrage : rien ne reste ouvert
            await runner.cleanup()
            return False
        self.runner = runner
        self.logger.info("Web hooks : à l'écoute sur %s.", self.url, extra=console_extra())
        return True

    async def stop(self) -> None:
        """Ferme le récepteur (connexions en cours comprises) et libère le port."""
        self._stopping = True
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()

    def _inc(self, name: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"hooks/{name}")

    def _refuse(self, kind: str, status: int, why: str, remote: str | None) -> web.Response:
        """Refus compté ; dit (WARNING, sans secret ni en-tête) au plus quelques fois."""
        self._inc(kind)
        seen = self._refusals[kind] = self._refusals.get(kind, 0) + 1
        if seen <= MAX_REFUSAL_LINES:
            more = (f" Les refus suivants de cette sorte ne sont plus dits (statistique "
                    f"hooks/{kind})." if seen == MAX_REFUSAL_LINES else "")
            self.logger.warning("Web hooks : requête de %s refusée (%s : %s).%s",
                                remote or "?", status, why, more)
        return _reply(status, {"error": why})

    async def handle(self, request: web.Request) -> web.Response:
        self._inc("received")
        remote = request.remote
        if request.content_length is not None and request.content_length > MAX_BODY:
            return self._refuse("bad_request", 400, "corps de plus de 1 Mio", remote)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("bad_request", 400, "corps de plus de 1 Mio", remote)
        if not self._authorized(request.headers, request.query, body):
            return self._refuse("refused_auth", 401, "signature ou clé absente ou fausse", remote)
        try:
            payload = parse_hook(body)
        except BadHook as exc:
            return self._refuse("bad_request", 400, str(exc), remote)
        if self.website_id is not None and payload.get("website_id") != self.website_id:
            self._inc("foreign_website")
            return _reply(200, {"status": "ignored"})
        try:
            outcome = self.on_event(payload["event"], payload["data"])
        except Exception as exc:  # le journal ne doit pas faire tomber le récepteur
            self.logger.error("Web hooks : échec de la journalisation de « %s » (%s).",
                              payload["event"], type(exc).__name__)
            outcome = "failed"
        if outcome not in ACKNOWLEDGED:
            self._inc("failed")
            return _reply(500, {"error": "événement non journalisé ; réessayez"})
        if outcome == "journaled":
            self._inc("journaled")
        return _reply(200, {"status": outcome})


def _reply(status: int, payload: dict) -> web.Response:
    return web.json_response(payload, status=status)
