"""Client JSON-RPC : celui de scrapy-jsonrpc, inchangé.

Il fonctionne tel quel en Python 3 ; seul son import échouait (``unicode_to_str``
absent de Scrapy 2), ce que ``compat`` règle. Avec un jeton, le passer dans
l'URL (``...?token=...``) : ce client ne sait pas ajouter d'en-tête.
"""

from crispscrape.jsonrpc.shims import load_scrapy_jsonrpc

_package = load_scrapy_jsonrpc()
jsonrpc_client_call = _package.jsonrpc.jsonrpc_client_call
JsonRpcError = _package.jsonrpc.JsonRpcError

__all__ = ["JsonRpcError", "jsonrpc_client_call"]
