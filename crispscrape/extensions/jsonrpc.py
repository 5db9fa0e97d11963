"""Le service JSON-RPC, chargé seulement quand il est activé (JSONRPC_ENABLED).

Le service lui-même (crispscrape.jsonrpc.webservice.SecureWebService) hérite des classes de
scrapy-jsonrpc, et importer ce paquet installe un moment des cales dans Scrapy (voir
crispscrape/jsonrpc/shims.py). Déclaré tel quel dans EXTENSIONS, il serait importé à chaque
crawl, même désactivé : cette petite fabrique ne l'importe qu'une fois JSON-RPC demandé.
"""

from __future__ import annotations

from scrapy.exceptions import NotConfigured


class JsonRpcService:
    """Fabrique d'extension : renvoie le SecureWebService si JSONRPC_ENABLED, sinon rien."""

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("JSONRPC_ENABLED"):
            raise NotConfigured
        from crispscrape.jsonrpc.webservice import SecureWebService

        return SecureWebService(crawler)
