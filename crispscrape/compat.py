"""Les détails internes de Scrapy dont crispscrape dépend : tous ici, tous vérifiés.

Pourquoi un module à part (comme scrapy-zyte-api) : Scrapy n'offre pas d'interface
publique pour mettre un slot de téléchargement en pause, le libérer à l'arrêt, réveiller
le moteur ou régler le délai d'AutoThrottle. Nous touchons donc à des attributs privés, qui
peuvent changer à chaque version. Chaque accès passe par un petit helper qui vérifie que
l'attribut existe (et, quand cela compte, sa signature ou son horloge) et, sinon, lève
ScrapyInternalsError avec un message en français qui nomme la version de Scrapy installée.

Jamais de ``except AttributeError: pass`` : un changement de Scrapy doit se voir au premier
crawl (et dans tests/unit/test_compat.py), pas devenir un arrêt qui traîne ou un 429 ignoré.

Détails internes utilisés (vérifiés avec Scrapy 2.19) :

- ``Slot.lastseen`` et l'horloge du téléchargeur (``time.monotonic`` depuis 2026) : pause
  d'un slot jusqu'à l'échéance d'un Retry-After (``pause_slot``) ;
- ``Slot.latercall`` et ``Downloader._process_queue`` : libérer un slot à l'arrêt
  (``release_slot``) ;
- ``ExecutionEngine._slot.nextcall`` : relancer le moteur après une reprise JSON-RPC
  (``wake_engine``) ;
- ``AutoThrottle._adjust_delay(slot, latency, response)`` : la méthode que notre
  AutoThrottle surcharge (``require_method``) ;
- ``ExecutionEngine.scraper.start_itemproc_async`` : un événement en direct passe par les
  pipelines hors de toute réponse (``process_item_now``) ;
- ``MediaPipeline.SpiderInfo.downloaded`` : le cache des résultats, vidé pour le direct
  (``trim_media_cache``) ;
- ``scrapy.pipelines.media._MediaRequestFiltered`` : l'échec de média que Scrapy journalise
  en DEBUG, sans trace Python (``quiet_media_failure``) ; un 404 ou un délai dépassé d'une
  pièce jointe est un résultat noté dans l'index, pas une erreur du programme.

Remplacés par l'interface publique, et donc absents d'ici : ``RetryMiddleware._retry``
(notre middleware de réessai passe par process_response / process_exception) et
``Command._create_crawler`` (la commande crawl passe par create_crawler / crawl / start).

``spawn`` n'est pas un détail interne de Scrapy, mais il vit ici pour la même raison :
un seul endroit pour une règle d'asyncio facile à oublier.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import scrapy

logger = logging.getLogger(__name__)

# Version de Scrapy avec laquelle chaque détail ci-dessous a été vérifié.
TESTED_SCRAPY = "2.19"


class ScrapyInternalsError(RuntimeError):
    """Un détail interne de Scrapy a changé : message en français, version de Scrapy comprise."""


def _fail(what: str, why: str) -> NoReturn:
    raise ScrapyInternalsError(
        f"crispscrape dépend d'un détail interne de Scrapy qui a changé : {what} ({why}) "
        f"dans Scrapy {scrapy.__version__}. crispscrape a été vérifié avec Scrapy "
        f"{TESTED_SCRAPY} : installez cette version, ou adaptez crispscrape/compat.py."
    )


def require_attribute(obj: Any, name: str, what: str) -> Any:
    """Valeur de ``obj.name`` ; ScrapyInternalsError (en français) si l'attribut a disparu."""
    if not hasattr(obj, name):
        _fail(what, "attribut introuvable")
    return getattr(obj, name)


def require_method(cls: type, name: str, parameters: tuple[str, ...]) -> None:
    """Vérifie qu'une méthode que nous surchargeons existe encore, avec les mêmes paramètres.

    Une surcharge dont la méthode de base a changé de nom ne serait plus jamais appelée :
    le crawl tournerait sans notre comportement, sans rien dire.
    """
    what = f"{cls.__module__}.{cls.__qualname__}.{name}"
    method = getattr(cls, name, None)
    if not callable(method):
        _fail(what, "méthode introuvable")
    found = tuple(p for p in inspect.signature(method).parameters if p != "self")
    if found != parameters:
        _fail(what, f"paramètres {found} au lieu de {parameters}")


# --- Slots de téléchargement ------------------------------------------------------------

def downloader_clock() -> Callable[[], float]:
    """L'horloge à laquelle le téléchargeur compare ``Slot.lastseen``.

    Scrapy est passé de ``time.time`` à ``time.monotonic`` (2026) ; une pause calculée avec
    l'autre horloge serait fausse de plusieurs décennies. On lit donc le nom que le module
    du téléchargeur importe, plutôt que de supposer.
    """
    import scrapy.core.downloader as module

    if getattr(module, "monotonic", None) is time.monotonic:
        return time.monotonic
    if getattr(module, "time", None) is time.time:
        return time.time
    _fail("scrapy.core.downloader (horloge de Slot.lastseen)",
          "ni time.monotonic ni time.time importée par le module")


def pause_slot(slot: Any, seconds: float) -> None:
    """Le slot n'envoie plus rien pendant ``seconds``, puis reprend à son rythme.

    Le téléchargeur attend ``lastseen + délai`` avant la requête suivante : reculer
    ``lastseen`` suspend le slot sans changer son délai (une pause, pas un nouveau rythme).
    Sans délai (0), le téléchargeur ne consulte pas ``lastseen`` : un délai minime est posé.
    """
    lastseen = require_attribute(slot, "lastseen", "Slot.lastseen")
    if slot.delay <= 0:
        slot.delay = 0.001
    slot.lastseen = max(lastseen, downloader_clock()() + seconds - slot.delay)


def release_slot(downloader: Any, slot: Any) -> None:
    """Arrêt : les requêtes en file dans ce slot partent tout de suite.

    Scrapy attend la fin de chaque requête en cours avant de fermer ; une requête retenue
    par un long délai ou une pause Retry-After ferait attendre l'arrêt d'autant.
    """
    process_queue = require_attribute(downloader, "_process_queue", "Downloader._process_queue")
    latercall = require_attribute(slot, "latercall", "Slot.latercall")
    slot.delay = 0
    if latercall is not None:
        latercall.cancel()
        slot.latercall = None
        process_queue(slot)


# --- Pipeline de médias -------------------------------------------------------------------

def quiet_media_failure() -> type[Exception]:
    """La classe d'échec de média que MediaPipeline journalise sans trace (DEBUG).

    Toute autre exception levée par ``media_failed`` est journalisée par Scrapy en ERROR avec
    sa trace Python (``logger.exception``), pour chaque pièce jointe expirée ou trop lente.
    """
    import scrapy.pipelines.media as module

    quiet = require_attribute(module, "_MediaRequestFiltered",
                              "scrapy.pipelines.media._MediaRequestFiltered")
    if not (isinstance(quiet, type) and issubclass(quiet, module.FileException)):
        _fail("scrapy.pipelines.media._MediaRequestFiltered", "n'est plus une FileException")
    return quiet


def trim_media_cache(info: Any, keep: int = 256) -> None:
    """Vide le cache des résultats de MediaPipeline (``SpiderInfo.downloaded``) au-delà de
    ``keep`` entrées. Scrapy le garde toute la vie de l'araignée (échecs compris, avec leur
    trace) : rien pour un crawl, mais le direct tourne des jours et sa mémoire grandissait
    (banc du direct). L'index des pièces jointes dit déjà ce qui est fait : rien n'est
    téléchargé deux fois (pipelines/attachments.py le consulte avant chaque requête)."""
    downloaded = require_attribute(info, "downloaded", "MediaPipeline.SpiderInfo.downloaded")
    if len(downloaded) > keep:
        downloaded.clear()


# --- Moteur --------------------------------------------------------------------------------

def wake_engine(engine: Any) -> None:
    """Relance tout de suite la boucle du moteur (sinon : au prochain battement, 5 s).

    ``engine.unpause()`` ne fait que baisser un drapeau ; rien de public ne relance la boucle.
    Moteur sans spider ouvert (``_slot`` à None) : il n'y a rien à relancer.
    """
    engine_slot = require_attribute(engine, "_slot", "ExecutionEngine._slot")
    if engine_slot is None:
        return
    nextcall = require_attribute(engine_slot, "nextcall", "ExecutionEngine._slot.nextcall")
    require_attribute(nextcall, "schedule", "ExecutionEngine._slot.nextcall.schedule")()


async def process_item_now(crawler: Any, item: Any) -> None:
    """Fait passer ``item`` par les pipelines tout de suite, hors de toute réponse.

    Le direct applique un événement dès qu'il arrive, depuis le rappel de la connexion RTM :
    aucune réponse Scrapy n'en est la source. ``Scraper.start_itemproc_async(item,
    response=None)`` (Scrapy ≥ 2.14) est fait pour cela (mêmes signaux item_scraped /
    item_error qu'un item d'araignée), mais ``engine.scraper`` n'est pas documenté.
    """
    scraper = require_attribute(crawler.engine, "scraper", "ExecutionEngine.scraper")
    start = require_attribute(scraper, "start_itemproc_async", "Scraper.start_itemproc_async")
    await start(item, response=None)


# --- Tâches asyncio --------------------------------------------------------------------------

# Tâches lancées par spawn et pas encore finies. asyncio ne garde qu'une référence faible
# aux tâches : c'est le seul état de module du projet, et il ne contient que des tâches
# en cours (chacune se retire elle-même en finissant).
_running: set[asyncio.Task] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
    """Lance ``coro`` en tâche de fond et la garde en vie jusqu'à sa fin.

    Remplace ``asyncio.ensure_future(...)`` « lancé puis oublié » : une tâche sans référence
    peut être détruite par le ramasse-miettes avant d'avoir fini (voir la documentation
    d'asyncio.create_task), et son exception se perdrait. Ici l'exception est journalisée.
    """
    task = asyncio.get_running_loop().create_task(coro)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error("Échec d'une tâche de fond (%s) : %s", task.get_coro(), error,
                     exc_info=error)


def stop_event_loop() -> None:
    """Arrête le réacteur Twisted à la prochaine occasion (interface publique de Twisted).

    ``scrapy crawl account`` démarre le processus Scrapy avec ``stop_after_crawl=False`` (ses
    crawls se suivent) : c'est à lui de l'arrêter quand la dernière étape est finie.
    """
    from twisted.internet import reactor as installed

    reactor: Any = installed

    def stop_now() -> None:
        try:
            reactor.stop()
        except Exception:  # noqa: BLE001 — déjà arrêté ou en cours d'arrêt (Ctrl-C)
            pass

    reactor.callLater(0, stop_now)


async def aiter_any(outputs):
    """Parcourt un itérable synchrone ou asynchrone (les requêtes de départ d'une araignée)."""
    if hasattr(outputs, "__aiter__"):
        async for output in outputs:
            yield output
    else:
        for output in outputs:
            yield output
