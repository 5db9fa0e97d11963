"""Sérialisation JSON de scrapy-jsonrpc, corrigée pour Python 3 et Scrapy 2.

On garde l'encodeur et le décodeur du paquet (dates, Decimal, Request,
Response, références de spider) et l'on ne remplace que ce qui casse.
"""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter, is_item

from crispscrape.jsonrpc.shims import load_scrapy_jsonrpc
from crispscrape.jsonrpc.security import SecretRedactor

_package = load_scrapy_jsonrpc()
SpiderReferencer = _package.serialize.SpiderReferencer
ScrapyJSONEncoder = _package.serialize.ScrapyJSONEncoder
ScrapyJSONDecoder = _package.serialize.ScrapyJSONDecoder


class CompatSpiderReferencer(SpiderReferencer):
    """Références « spider:<id>:<nom> » adaptées à Scrapy 2 et Python 3."""

    def get_spider_from_reference(self, ref: str) -> Any:
        # ``engine.open_spiders`` n'existe plus : un moteur Scrapy 2 n'a qu'un
        # spider, ``engine.spider`` (None une fois fermé).
        match = self.spider_ref_re.search(ref)
        if not match:
            return ref
        spider_id, spider_name = match.groups()
        engine = getattr(self.crawler, "engine", None)
        spider = getattr(engine, "spider", None)
        if spider is not None and (f"{id(spider):x}" == spider_id or spider.name == spider_name):
            return spider
        raise RuntimeError(f"Spider non démarré : {ref}")

    def decode_references(self, obj: Any) -> Any:
        # La version du paquet teste d'abord ``basestring`` (NameError en
        # Python 3) : on ne peut donc pas lui déléguer, même pour dict et list.
        if isinstance(obj, str):
            return self.get_spider_from_reference(obj)
        if isinstance(obj, dict):
            return {self.decode_references(k): self.decode_references(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.decode_references(x) for x in obj]
        return obj


class CompatJSONDecoder(ScrapyJSONDecoder):
    """Décodeur du paquet, qui accepte aussi le corps brut (bytes) d'une requête."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(spref=CompatSpiderReferencer(crawler))

    def decode(self, s: str | bytes) -> Any:
        # ``json.JSONDecoder.decode`` n'accepte que str en Python 3.
        if isinstance(s, (bytes, bytearray)):
            s = bytes(s).decode("utf-8")
        return super().decode(s)


class RedactingJSONEncoder(ScrapyJSONEncoder):
    """Encodeur du paquet, complété, qui masque au passage toute valeur secrète.

    Tout ce qui sort du service passe par ici : c'est le dernier rempart si
    une vue laissait filer une chaîne contenant un identifiant.
    """

    def __init__(self, crawler: Any, redactor: SecretRedactor) -> None:
        super().__init__(spref=CompatSpiderReferencer(crawler))
        self.redactor = redactor

    def encode(self, o: Any) -> str:
        return super().encode(self.redactor.redact(o))

    def default(self, o: Any) -> Any:
        return self.redactor.redact(self._plain(o))

    def _plain(self, o: Any) -> Any:
        # ``BaseItem`` n'existe plus : itemadapter reconnaît tous les types d'item.
        if is_item(o):
            return ItemAdapter(o).asdict()
        if isinstance(o, (set, frozenset)):
            return sorted(o, key=repr)
        try:
            return super().default(o)
        except TypeError:
            # Jamais ``repr(o)`` : un repr peut contenir n'importe quoi, secrets compris.
            return f"<{type(o).__name__}>"
