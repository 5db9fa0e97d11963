"""Extension Scrapy : le service web JSON-RPC de scrapy-jsonrpc, sécurisé.

L'add-on crispscrape la branche par sa fabrique paresseuse
(``crispscrape.extensions.jsonrpc.JsonRpcService``), qui n'importe ce module, et donc
scrapy-jsonrpc, que si JSONRPC_ENABLED. Déclarée directement dans EXTENSIONS
(``"crispscrape.jsonrpc.webservice.SecureWebService": 500``), elle marche aussi, mais
scrapy-jsonrpc est alors importé à chaque crawl.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.reactor import listen_tcp
from twisted.internet import error as twisted_error
from twisted.web import server

from crispscrape.jsonrpc.shims import load_scrapy_jsonrpc
from crispscrape.jsonrpc.resources import JsonErrorResource, SafeJsonRpcResource, SafeRootResource
from crispscrape.jsonrpc.security import (
    AccessPolicy,
    JsonRpcConfigurationError,
    SecretRedactor,
    access_log_formatter,
)
from crispscrape.jsonrpc.views import CrawlerView

logger = logging.getLogger(__name__)

_package = load_scrapy_jsonrpc()

# Valeurs par défaut des réglages (mêmes noms que la documentation de scrapy-jsonrpc).
DEFAULT_PORT_RANGE = [6080, 7030]
PORT_STAT_KEY = "jsonrpc/port"

__all__ = ["JsonRpcConfigurationError", "SecureWebService"]


class SecureWebService(_package.webservice.WebService):
    """Service JSON-RPC de scrapy-jsonrpc : local par défaut, jeton hors boucle locale.

    Réglages : JSONRPC_ENABLED (False), JSONRPC_HOST ("127.0.0.1"),
    JSONRPC_PORT ([6080, 7030], 0 = port libre), JSONRPC_LOGFILE (None),
    JSONRPC_TOKEN (None ; obligatoire si JSONRPC_HOST n'est pas local).
    """

    def __init__(self, crawler: Any) -> None:
        # On n'appelle pas ``WebService.__init__`` : il fait ``putChild('crawler', ...)``
        # avec un str, que Twisted 26 refuse (TypeError). On refait ses étapes,
        # corrigées et durcies, dans le même ordre.
        settings = crawler.settings
        if not settings.getbool("JSONRPC_ENABLED"):
            raise NotConfigured
        if not settings.getbool("TWISTED_REACTOR_ENABLED", True):
            raise NotConfigured(
                "Le service JSON-RPC a besoin du réacteur Twisted (TWISTED_REACTOR_ENABLED)."
            )
        self.crawler = crawler
        # Lève JsonRpcConfigurationError (le crawl ne démarre pas) si l'adresse
        # est joignable depuis le réseau sans jeton.
        try:
            self.policy = AccessPolicy.from_crawler(crawler)
        except JsonRpcConfigurationError as exc:
            # Une ligne lisible dans le journal, avant la trace de l'exception.
            logger.error("%(error)s", {"error": exc}, extra={"crawler": crawler})
            raise
        self.host = self.policy.host
        self.portrange = [int(x) for x in settings.getlist("JSONRPC_PORT", DEFAULT_PORT_RANGE)]
        self.port = None
        redactor = SecretRedactor.from_crawler(crawler)

        root = SafeRootResource(crawler, redactor=redactor)
        root.putChild(b"crawler", SafeJsonRpcResource(crawler, CrawlerView(crawler, redactor), redactor=redactor))
        server.Site.__init__(
            self,
            root,
            logPath=settings.get("JSONRPC_LOGFILE") or None,
            logFormatter=access_log_formatter,
            # Le client du paquet poste en « x-www-form-urlencoded » : sans ceci,
            # Twisted analyserait le JSON comme un formulaire, et un « token=… »
            # glissé dans le corps compterait comme jeton. Seule l'URL compte.
            parsePOSTFormSubmission=False,
        )
        self.noisy = False
        self.displayTracebacks = False
        crawler.signals.connect(self.start_listening, signals.engine_started)
        crawler.signals.connect(self.stop_listening, signals.engine_stopped)

    def getResourceFor(self, txrequest: Any) -> Any:
        # Contrôle d'accès avant tout parcours : aucune ressource n'est atteinte
        # par une requête refusée.
        refusal = self.policy.refusal(txrequest)
        if refusal is not None:
            code, reason = refusal
            headers = {b"WWW-Authenticate": b'Bearer realm="crispscrape"'} if code == 401 else None
            logger.warning(
                "Requête JSON-RPC refusée (%(code)d, %(reason)s) : %(method)s %(path)s",
                {"code": code, "reason": reason,
                 "method": txrequest.method.decode("latin-1"),
                 "path": txrequest.path.decode("latin-1")},
                extra={"crawler": self.crawler},
            )
            return JsonErrorResource(code, reason, headers)
        return super().getResourceFor(txrequest)

    def start_listening(self) -> None:
        try:
            self.port = listen_tcp(self.portrange, self.host, self)
        except twisted_error.CannotListenError as exc:
            logger.error(
                "Service JSON-RPC : impossible d'écouter sur %(host)s, ports %(ports)s (%(error)s).",
                {"host": self.host, "ports": self.portrange, "error": exc},
                extra={"crawler": self.crawler},
            )
            return
        address = self.port.getHost()
        self.crawler.stats.set_value(PORT_STAT_KEY, address.port)
        shown_host = f"[{address.host}]" if ":" in address.host else address.host
        logger.info(
            "Service JSON-RPC à l'écoute sur %(address)s (jeton %(token)s)",
            {"address": f"{shown_host}:{address.port}",
             "token": "exigé" if self.policy.token_required else "non exigé, accès local seulement"},
            extra={"crawler": self.crawler},
        )

    async def stop_listening(self) -> None:
        # Le paquet suppose que le port existe ; il manque si l'écoute a échoué.
        # Coroutine plutôt que Deferred : Scrapy 2.19 déconseille ces derniers
        # comme valeur de retour d'un gestionnaire de signal.
        if self.port is None:
            return
        port, self.port = self.port, None
        stopped = port.stopListening()
        if stopped is not None:
            await maybe_deferred_to_future(stopped)
