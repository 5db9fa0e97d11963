"""Ce que le service JSON-RPC laisse voir du crawler : une liste blanche explicite.

Le scrapy-jsonrpc d'origine parcourt n'importe quel attribut (``getattr``) :
``crawler/engine/downloader/...`` mènerait jusqu'aux requêtes et à leur
en-tête ``Authorization``. Ici, chaque vue déclare ses enfants et ses
méthodes ; tout le reste, et tout nom commençant par « _ », est introuvable.
"""

from __future__ import annotations

import logging
import numbers
import re
from collections.abc import Callable
from typing import Any

from scrapy import Spider
from scrapy.utils.defer import deferred_from_coro

from crispscrape import compat
from crispscrape.jsonrpc.security import MASK, SecretRedactor, is_secret_name

logger = logging.getLogger(__name__)

# Une raison de fermeture finit dans les journaux et les stats : on la veut courte et sobre.
REASON_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class RpcMethods:
    """Cible remise à ``jsonrpc_server_call`` : seules les méthodes listées existent.

    ``jsonrpc_server_call`` fait ``getattr(cible, nom)`` : sur un objet
    ordinaire, ``__init__`` ou ``__class__`` seraient trouvés. En surchargeant
    ``__getattribute__``, rien d'autre que la liste n'est atteignable.
    """

    __slots__ = ("_methods",)

    def __init__(self, methods: dict[str, Callable[..., Any]]) -> None:
        object.__setattr__(self, "_methods", dict(methods))

    def __getattribute__(self, name: str) -> Any:
        methods = object.__getattribute__(self, "_methods")
        if name.startswith("_") or name not in methods:
            raise AttributeError(name)
        return methods[name]


class AllowListView:
    """Base des vues : rien n'est exposé sans être déclaré."""

    def children(self) -> dict[str, Callable[[], AllowListView]]:
        """Nom -> fabrique de la vue enfant (ressource ``.../nom``)."""
        return {}

    def methods(self) -> dict[str, Callable[..., Any]]:
        """Nom -> méthode appelable en JSON-RPC (POST sur la ressource)."""
        return {}

    def snapshot(self) -> Any:
        """Réponse à un GET : par défaut, ce qu'on peut faire ici."""
        return {"children": sorted(self.children()), "methods": sorted(self.methods())}

    def child(self, name: str) -> AllowListView | None:
        if name.startswith("_"):
            return None
        factory = self.children().get(name)
        return factory() if factory is not None else None

    def rpc_target(self) -> RpcMethods:
        return RpcMethods({n: m for n, m in self.methods().items() if not n.startswith("_")})


class ValueView(AllowListView):
    """Feuille : une valeur simple (nom du spider, compteur)."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def snapshot(self) -> Any:
        return self._value


class StatsView(AllowListView):
    """Statistiques du crawl, en lecture seule."""

    def __init__(self, crawler: Any) -> None:
        self._crawler = crawler

    def methods(self) -> dict[str, Callable[..., Any]]:
        return {"get_stats": self.get_stats, "get_value": self.get_value}

    def snapshot(self) -> Any:
        return self.get_stats()

    def get_stats(self, spider: Any = None) -> dict[str, Any]:
        # ``spider`` est accepté pour les clients de l'ancienne API, puis ignoré :
        # Scrapy 2 n'a qu'un spider et signale ce paramètre comme obsolète.
        return dict(self._crawler.stats.get_stats())

    def get_value(self, key: str, default: Any = None, spider: Any = None) -> Any:
        return self._crawler.stats.get_value(key, default)


class EngineView(AllowListView):
    """Pilotage du moteur : état, pause, reprise, fermeture propre du spider."""

    def __init__(self, crawler: Any) -> None:
        self._crawler = crawler

    def methods(self) -> dict[str, Callable[..., Any]]:
        return {
            "get_status": self.get_status,
            "pause": self.pause,
            "unpause": self.unpause,
            "close_spider": self.close_spider,
        }

    def snapshot(self) -> Any:
        return {**super().snapshot(), "status": self.get_status()}

    def _engine(self) -> Any:
        engine = getattr(self._crawler, "engine", None)
        if engine is None:
            raise RuntimeError("Le moteur n'est pas démarré.")
        return engine

    def get_status(self) -> dict[str, Any]:
        engine = getattr(self._crawler, "engine", None)
        spider = getattr(engine, "spider", None)
        return {
            "running": bool(getattr(engine, "running", False)),
            "paused": bool(getattr(engine, "paused", False)),
            "spider": spider.name if spider is not None else None,
        }

    def pause(self) -> dict[str, Any]:
        # Scrapy cesse de sortir des requêtes du planificateur ; celles déjà en
        # cours de téléchargement se terminent normalement.
        self._engine().pause()
        logger.info("Crawl mis en pause par JSON-RPC.", extra={"crawler": self._crawler})
        return self.get_status()

    def unpause(self) -> dict[str, Any]:
        engine = self._engine()
        engine.unpause()
        # ``unpause()`` de Scrapy ne fait que baisser le drapeau : sans relance,
        # rien ne repart avant le prochain battement du moteur (toutes les 5 s).
        # Rien de public ne relance la boucle : crispscrape.compat s'en charge, et
        # le dit haut et fort si Scrapy change.
        compat.wake_engine(engine)
        logger.info("Crawl repris par JSON-RPC.", extra={"crawler": self._crawler})
        return self.get_status()

    def close_spider(self, *args: Any, reason: str = "cancelled") -> dict[str, Any]:
        """Ferme le spider en cours, comme tout arrêt propre.

        Appel : ``close_spider("ma_raison")`` ou ``close_spider(reason=...)`` ;
        l'ancienne forme ``close_spider(<spider>, "ma_raison")`` est acceptée.
        """
        args_list = [a for a in args if not isinstance(a, Spider)]
        if len(args_list) > 1:
            raise TypeError("close_spider attend une seule raison.")
        if args_list:
            reason = args_list[0]
        if not isinstance(reason, str) or not REASON_PATTERN.match(reason):
            raise ValueError(
                "Raison invalide : 1 à 64 caractères parmi lettres, chiffres, « _ . : - »."
            )
        engine = self._engine()
        if engine.spider is None:
            raise RuntimeError("Aucun spider ouvert.")
        logger.info(
            "Fermeture du spider demandée par JSON-RPC (raison : %(reason)s).",
            {"reason": reason},
            extra={"crawler": self._crawler},
        )
        # La fermeture attend la fin des téléchargements en cours : on la lance
        # sans l'attendre pour répondre tout de suite au client. Le Deferred
        # gardé reçoit un errback pour qu'aucune erreur ne passe inaperçue.
        closing = deferred_from_coro(engine.close_spider_async(reason=reason))
        closing.addErrback(self._log_close_failure)
        return {"closing": True, "reason": reason}

    def _log_close_failure(self, failure: Any) -> None:
        logger.error(
            "Échec de la fermeture du spider demandée par JSON-RPC : %(error)s",
            {"error": failure.getErrorMessage()},
            extra={"crawler": self._crawler},
        )


class SpiderView(AllowListView):
    """Le spider : son nom et les compteurs qu'il déclare publics.

    Un spider choisit ses compteurs avec l'attribut de classe
    ``jsonrpc_counters = ("pages_vues", ...)`` ; seules les valeurs numériques
    sont montrées. Ses autres attributs (en-têtes, jetons…) restent privés.
    """

    def __init__(self, crawler: Any) -> None:
        self._crawler = crawler

    def _spider(self) -> Spider | None:
        return getattr(self._crawler, "spider", None)

    def counters(self) -> dict[str, Any]:
        spider = self._spider()
        names = getattr(type(spider), "jsonrpc_counters", ()) if spider is not None else ()
        values = {}
        for name in names:
            if not isinstance(name, str) or name.startswith("_"):
                continue
            value = getattr(spider, name, None)
            if isinstance(value, numbers.Real):
                values[name] = value
        return values

    def children(self) -> dict[str, Callable[[], AllowListView]]:
        spider = self._spider()
        entries: dict[str, Callable[[], AllowListView]] = {
            "name": lambda: ValueView(spider.name if spider is not None else None)
        }
        for name, value in self.counters().items():
            entries[name] = lambda value=value: ValueView(value)
        return entries

    def methods(self) -> dict[str, Callable[..., Any]]:
        return {"get_counters": self.counters}

    def snapshot(self) -> Any:
        spider = self._spider()
        return {"name": spider.name if spider is not None else None, "counters": self.counters()}


class SettingsView(AllowListView):
    """Réglages en lecture seule, valeurs secrètes remplacées par « *** ».

    Ni ``set``, ni ``attributes`` (qui donnerait les objets bruts), ni
    ``frozencopy`` : uniquement des lectures, toutes filtrées.
    """

    def __init__(self, crawler: Any, redactor: SecretRedactor) -> None:
        self._settings = crawler.settings
        self._redactor = redactor

    def methods(self) -> dict[str, Callable[..., Any]]:
        return {
            "get": self.get,
            "getbool": self._reader("getbool"),
            "getint": self._reader("getint"),
            "getfloat": self._reader("getfloat"),
            "getlist": self._reader("getlist"),
            "getdict": self._reader("getdict"),
            "copy_to_dict": self.copy_to_dict,
        }

    def get(self, name: str, default: Any = None) -> Any:
        return self._read("get", name, default)

    def copy_to_dict(self) -> dict[str, Any]:
        return {
            name: self._redactor.redact_setting(name, value)
            for name, value in self._settings.copy_to_dict().items()
        }

    def _reader(self, method_name: str) -> Callable[..., Any]:
        def read(name: str, default: Any = None) -> Any:
            return self._read(method_name, name, default)

        return read

    def _read(self, method_name: str, name: Any, default: Any) -> Any:
        if not isinstance(name, str):
            raise TypeError("Le nom d'un réglage doit être une chaîne.")
        if is_secret_name(name):
            # Avant toute lecture : getint("CRISP_KEY_PROD") lèverait une erreur
            # dont le message citerait la valeur.
            return MASK
        value = getattr(self._settings, method_name)(name, default)
        return self._redactor.redact_setting(name, value)


class CrawlerView(AllowListView):
    """Racine « crawler » : stats, moteur, spider, réglages — et rien d'autre."""

    def __init__(self, crawler: Any, redactor: SecretRedactor) -> None:
        self._crawler = crawler
        self._redactor = redactor

    def children(self) -> dict[str, Callable[[], AllowListView]]:
        return {
            "stats": lambda: StatsView(self._crawler),
            "engine": lambda: EngineView(self._crawler),
            "spider": lambda: SpiderView(self._crawler),
            "settings": lambda: SettingsView(self._crawler, self._redactor),
        }
