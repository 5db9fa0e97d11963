"""Chargement du vrai paquet scrapy-jsonrpc 0.3.0 sous Scrapy 2.x.

scrapy-jsonrpc 0.3.0 date de Scrapy 0.24 : ses modules importent des noms que
Scrapy 2 a supprimés (``scrapy.log``, ``scrapy.spider``,
``scrapy.utils.python.unicode_to_str``, ``scrapy.item.BaseItem``) et échouent
dès l'import. Plutôt que de recopier le paquet, on installe des cales
(« shims ») *le temps de l'import seulement*, puis on les retire : une fois
importés, les modules du paquet gardent leur propre référence aux noms
empruntés, et le reste du processus retrouve un Scrapy intact (``import
scrapy.log`` échoue de nouveau, comme il se doit).

Les défauts qui ne sont pas des imports (str/bytes, ``basestring``,
``engine.open_spiders``…) sont corrigés par héritage dans ``serialize.py`` et
``resources.py``, jamais en modifiant le paquet.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import threading
import types
from collections.abc import Iterator

import scrapy
import scrapy.item
import scrapy.utils.python
from scrapy.utils.python import to_bytes

logger = logging.getLogger(__name__)

# Modules du paquet, dans l'ordre de leurs dépendances internes.
PACKAGE_MODULES = (
    "scrapy_jsonrpc.serialize",
    "scrapy_jsonrpc.jsonrpc",
    "scrapy_jsonrpc.txweb",
    "scrapy_jsonrpc.webservice",
)

# Deux imports simultanés verraient chacun les cales de l'autre disparaître.
_load_lock = threading.Lock()


def _legacy_log_module() -> types.ModuleType:
    """Remplaçant minimal de l'ancien ``scrapy.log`` (retiré dans Scrapy 1.0).

    Le paquet n'en utilise que ``log.msg(format=..., level=..., **kw)`` ; on le
    renvoie vers ``logging`` pour que rien ne se perde si ce code est appelé.
    """
    module = types.ModuleType("scrapy.log", "Cale temporaire de crispscrape.jsonrpc.shims.")
    legacy_logger = logging.getLogger("scrapy_jsonrpc")

    def msg(message=None, format=None, level=logging.INFO, **kw):  # noqa: A002 - signature d'origine
        text = format % kw if format is not None else str(message)
        legacy_logger.log(level, text)

    module.msg = msg
    for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        setattr(module, name, getattr(logging, name))
    return module


def _legacy_spider_module() -> types.ModuleType:
    """Remplaçant de ``scrapy.spider`` (devenu ``scrapy.spiders`` dans Scrapy 1.0)."""
    module = types.ModuleType("scrapy.spider", "Cale temporaire de crispscrape.jsonrpc.shims.")
    module.Spider = scrapy.Spider
    return module


@contextlib.contextmanager
def legacy_scrapy_names() -> Iterator[None]:
    """Installe les noms disparus de Scrapy, puis les retire en sortie.

    Seul ce qui manque est ajouté, et seul ce qui a été ajouté est retiré :
    on ne masque jamais un vrai module ou un vrai attribut.
    """
    added_modules: dict[str, types.ModuleType] = {}
    added_attributes: list[tuple[object, str]] = []

    for name, factory in (("scrapy.log", _legacy_log_module),
                          ("scrapy.spider", _legacy_spider_module)):
        if name not in sys.modules:
            sys.modules[name] = added_modules[name] = factory()

    # ``unicode_to_str`` est devenu ``to_bytes`` (même rôle : str -> bytes UTF-8).
    # ``BaseItem`` a disparu : ``Item`` est son héritier pour ``dict(item)``.
    for owner, name, value in ((scrapy.utils.python, "unicode_to_str", to_bytes),
                               (scrapy.item, "BaseItem", scrapy.item.Item)):
        if not hasattr(owner, name):
            setattr(owner, name, value)
            added_attributes.append((owner, name))
    try:
        yield
    finally:
        for name, shim in added_modules.items():
            sys.modules.pop(name, None)
            # Par prudence : l'import n'ajoute pas l'attribut au paquet parent
            # quand le module vient de sys.modules, mais on ne laisse aucune trace.
            short_name = name.rsplit(".", 1)[1]
            if getattr(scrapy, short_name, None) is shim:
                delattr(scrapy, short_name)
        for owner, name in added_attributes:
            delattr(owner, name)


def load_scrapy_jsonrpc() -> types.SimpleNamespace:
    """Importe (une seule fois) les modules de scrapy-jsonrpc et les renvoie.

    Après cet appel, ``from scrapy_jsonrpc.jsonrpc import jsonrpc_client_call``
    fonctionne aussi dans le code appelant, sans autre préparation.
    """
    with _load_lock:
        missing = [name for name in PACKAGE_MODULES if name not in sys.modules]
        if missing:
            with legacy_scrapy_names():
                for name in PACKAGE_MODULES:
                    importlib.import_module(name)
    return types.SimpleNamespace(
        **{name.rsplit(".", 1)[1]: sys.modules[name] for name in PACKAGE_MODULES}
    )
