"""Ressources Twisted de scrapy-jsonrpc, corrigées pour Python 3 / Twisted 26.

On hérite des classes du paquet (``JsonResource``, ``JsonRpcResource``,
``RootResource``) et l'on ne surcharge que ce qui casse ou ce qui serait
dangereux ; le protocole (``jsonrpc_server_call``) reste celui du paquet.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from twisted.web import resource

from crispscrape.jsonrpc.shims import load_scrapy_jsonrpc
from crispscrape.jsonrpc.security import SecretRedactor
from crispscrape.jsonrpc.serialize import CompatJSONDecoder, RedactingJSONEncoder
from crispscrape.jsonrpc.views import AllowListView

logger = logging.getLogger(__name__)

_package = load_scrapy_jsonrpc()
jsonrpc_server_call = _package.jsonrpc.jsonrpc_server_call
jsonrpc_error = _package.jsonrpc.jsonrpc_error
jsonrpc_errors = _package.jsonrpc.jsonrpc_errors

# Un appel JSON-RPC tient en quelques centaines d'octets ; au-delà, on refuse
# plutôt que de décoder un corps arbitrairement gros.
MAX_BODY_BYTES = 64 * 1024


def _json_bytes(payload: Any) -> bytes:
    return (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8")


def _set_json_headers(txrequest: Any, body: bytes) -> None:
    txrequest.setHeader(b"Content-Type", b"application/json; charset=utf-8")
    # Twisted 26 refuse un entier comme valeur d'en-tête (le paquet passait len(r)).
    txrequest.setHeader(b"Content-Length", str(len(body)).encode("ascii"))
    txrequest.setHeader(b"Cache-Control", b"no-store")
    txrequest.setHeader(b"X-Content-Type-Options", b"nosniff")


class JsonErrorResource(resource.Resource):
    """Réponse d'erreur HTTP en JSON (les pages d'erreur de Twisted sont en HTML)."""

    isLeaf = True

    def __init__(self, code: int, message: str, headers: dict[bytes, bytes] | None = None) -> None:
        super().__init__()
        self.code = code
        self.message = message
        self.headers = headers or {}

    def render(self, txrequest: Any) -> bytes:
        body = _json_bytes({"error": self.message, "code": self.code})
        txrequest.setResponseCode(self.code)
        _set_json_headers(txrequest, body)
        for name, value in self.headers.items():
            txrequest.setHeader(name, value)
        return body


class CompatJsonResource(_package.webservice.JsonResource):
    """``JsonResource`` du paquet, au rendu corrigé pour Python 3 / Twisted 26."""

    def __init__(self, crawler: Any, target: Any = None, *, redactor: SecretRedactor) -> None:
        super().__init__(crawler, target)
        # L'encodeur du paquet, avec les références de spider de Scrapy 2 et le
        # masquage des secrets sur tout ce qui sort.
        self.redactor = redactor
        self.json_encoder = RedactingJSONEncoder(crawler, redactor)

    def render_object(self, obj: Any, txrequest: Any) -> bytes:
        # La version du paquet renvoie un str (Twisted exige des bytes), passe
        # un entier en Content-Length, et ajoute « Access-Control-Allow-Origin: * »,
        # qui laisserait n'importe quelle page web lire les réponses : on n'en
        # garde que l'encodage JSON.
        body = (self.json_encoder.encode(obj) + "\n").encode("utf-8")
        _set_json_headers(txrequest, body)
        return body


class SafeRootResource(CompatJsonResource, _package.webservice.RootResource):
    """Racine « / » : liste des ressources."""

    def render_GET(self, txrequest: Any) -> Any:
        # Le paquet renvoie ``self.children.keys()`` : une vue non sérialisable
        # dont les clés sont des bytes en Python 3.
        return {"resources": sorted(name.decode("ascii") for name in self.children)}

    def getChild(self, name: bytes, txrequest: Any) -> resource.Resource:
        # Le paquet compare ``name`` à '' (str) : jamais vrai avec les bytes de Twisted.
        if name == b"":
            return self
        return JsonErrorResource(404, "ressource inconnue")


class SafeJsonRpcResource(CompatJsonResource, _package.webservice.JsonRpcResource):
    """Ressource JSON-RPC limitée à une vue en liste blanche (voir views.py)."""

    def __init__(self, crawler: Any, target: AllowListView, *, redactor: SecretRedactor) -> None:
        super().__init__(crawler, target, redactor=redactor)
        # Décodeur du paquet sans ``basestring`` ni ``engine.open_spiders``.
        self.json_decoder = CompatJSONDecoder(crawler)

    def render_GET(self, txrequest: Any) -> Any:
        # Le paquet renvoie l'objet Python lui-même (souvent non sérialisable) :
        # la vue fournit à la place un instantané sûr.
        return self.get_target().snapshot()

    def render_POST(self, txrequest: Any) -> Any:
        # Le paquet lit ``content.getvalue()``, absent quand Twisted range le
        # corps dans un fichier temporaire ; on lit, on borne la taille, puis on
        # rend la main au protocole du paquet.
        txrequest.content.seek(0)
        body = txrequest.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return jsonrpc_error(None, jsonrpc_errors.INVALID_REQUEST, "Requête trop volumineuse")
        try:
            response = jsonrpc_server_call(self.get_target().rpc_target(), body, self.json_decoder)
        except Exception:
            # Ex. : un nom de méthode qui n'est pas une chaîne fait lever TypeError
            # à ``getattr``, que le paquet ne rattrape pas.
            logger.debug("Requête JSON-RPC invalide", exc_info=True)
            response = jsonrpc_error(None, jsonrpc_errors.INVALID_REQUEST, "Invalid Request")
        return self._without_traceback(response)

    def getChild(self, name: bytes, txrequest: Any) -> resource.Resource:
        # Le paquet fait ``getattr(cible, name)`` avec des bytes (TypeError en
        # Python 3) et sans limite : ici, seuls les enfants déclarés existent.
        child = self.get_target().child(name.decode("utf-8", "replace"))
        if child is None:
            return JsonErrorResource(404, "ressource inconnue")
        return SafeJsonRpcResource(self.crawler, child, redactor=self.redactor)

    @staticmethod
    def _without_traceback(response: dict[str, Any]) -> dict[str, Any]:
        # Le paquet joint la trace Python complète à chaque erreur : chemins,
        # lignes de code… On la garde dans le journal (DEBUG), pas dans la réponse.
        # La clé ``data`` reste présente : le client du paquet la lit.
        error = response.get("error")
        if isinstance(error, dict) and error.get("data"):
            logger.debug("Erreur JSON-RPC : %s", error["data"])
            error["data"] = None
        return response
