"""``scrapy crawl messages [-a nb=N] [-a reset=1]`` : les messages de chaque conversation.

Étapes et fichiers (un par étape) :
requêtes et pagination (ce fichier) -> un item ``MessageBatch`` par réponse (items.py) ->
dédoublonnage (pipelines/dedup.py) -> écriture triée et atomique (pipelines/messages.py,
storage/messages.py) -> état de reprise (storage/cursor.py, paging/cursor.py).

La requête suivante d'une conversation n'est envoyée qu'une fois le lot précédent passé
par les pipelines (signal item_scraped) : une conversation n'a jamais deux lots en cours,
quel que soit CONCURRENT_ITEMS.

Pagination d'une conversation : premier appel sans ``timestamp_before`` (le lot le plus
récent), puis on remonte le temps. ``timestamp_before`` est strict : des messages de la
même milliseconde que le plus ancien d'un lot plein pourraient ne pas y tenir et seraient
sautés. On redemande donc ``plus_ancien + 1`` et l'on dédoublonne par fingerprint ; si un
lot entier tient dans une seule milliseconde, on passe en strict pour avancer (compté dans
``messages/same_ms_overflow``). La fin est le statut 200 (206 = il en reste), un lot court
ou vide.

Arrêt anticipé (aucun appel inutile) : un fichier complet n'a plus besoin d'appels dès
qu'un lot rejoint ses messages, ou n'apporte rien de nouveau. Un fichier incomplet (export
interrompu) rattrape d'abord le haut, puis reprend la remontée là où elle s'était arrêtée.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import dataclass, field

from scrapy import signals

from crispscrape.api import InvalidResponse
from crispscrape.items import Known, MessageBatch
from crispscrape.outcome import CAUSE_STAT
from crispscrape.signals import messages_removed
from crispscrape.pipelines.messages import message_store
from crispscrape.spiders.base import ExportSpider
from crispscrape.spiders.ends import ConversationEnds
from crispscrape.spiders.removals import RemovalCheck
from crispscrape.storage.files import StorageError
from crispscrape.storage.layout import ExportLayout, state_path
from crispscrape.storage.suppressions import SuppressionLog
from crispscrape.paging.selection import Policy
from crispscrape.summary import files_line, messages_summary

# Âge de conversations.jsonl au-delà duquel l'export des messages seul le signale (un jour).
STALE_LISTING_SECONDS = 24 * 3600


@dataclass
class ConversationFetch:
    """Où en est la pagination d'une conversation pendant cette exécution."""

    session_id: str
    rank: int | None
    before: int | None = None
    seen: set[int] = field(default_factory=set)
    # Un lot tenait dans une milliseconde : relecture incomplète, rien tenu pour supprimé.
    overflowed: bool = False
    # Le direct : plages relues d'un seul tenant, début de l'historique atteint (200), floor.
    spans: list[list[int]] = field(default_factory=list)
    reached_start: bool = False
    floor: int | None = None


@dataclass(frozen=True)
class Step:
    """Décision après un lot : fin (et pourquoi), ou ``timestamp_before`` du lot suivant."""

    end: str | None = None
    next_before: int | None = None
    # Vrai si le lot entier tenait dans une milliseconde (passage en strict pour avancer).
    overflow: bool = False


def next_step(batch: list[dict], last: bool, known: Known, before: int | None,
              new: bool, full: bool = False) -> Step:
    """Règle de pagination, sans entrée-sortie (testée seule dans tests/unit). ``last`` :
    l'API dit que c'est le dernier lot (200, ou lot court) ; ``new`` : le lot apporte au moins
    un message ni dans le fichier ni déjà reçu ; ``full`` : relecture complète (-a verify=1)
    jusqu'au premier message, pour voir ce que Crisp a supprimé."""
    if last:
        return Step(end="fin")
    reached_stored = not full and any(m["fingerprint"] in known.stored for m in batch)
    if not full and known.complete_file and (reached_stored or not new):
        # Tout ce qui est plus ancien est déjà dans le fichier : aucun appel de plus.
        return Step(end="à jour")
    oldest = min(m["timestamp"] for m in batch)
    following = oldest + 1
    # Un fichier avec des lignes illisibles a des trous : on ne saute rien.
    if not full and (reached_stored or not new) and not known.unreadable \
            and known.oldest_stored is not None:
        # Fichier incomplet rattrapé par le haut : on reprend sous son plus ancien message.
        following = min(following, known.oldest_stored + 1)
    if before is not None and following >= before:
        # Lot entier dans une seule milliseconde : impossible d'en voir plus avec cette API ;
        # on passe en strict pour avancer, et on le signale.
        return Step(next_before=oldest, overflow=True)
    return Step(next_before=following)


class MessagesSpider(RemovalCheck, ConversationEnds, ExportSpider):
    name = "messages"
    default_nb = 50
    flags: tuple[str, ...] = ("verify",)  # -a verify=1 : tout revérifier une fois
    progress_key = "messages/conversations_done"
    verify = False
    # Conversations dont le lot suivant attend que le précédent soit passé par les pipelines.
    _paging: dict[str, ConversationFetch]
    progress_unit = "conversations"
    custom_settings = {
        "ITEM_PIPELINES": {
            # Le premier ouvert, le dernier fermé : efface ce que Crisp a supprimé une fois
            # les autres magasins fermés (pipelines/removals.py).
            "crispscrape.pipelines.removals.RemovalsPipeline": 50,
            "crispscrape.pipelines.dedup.MessageDedupPipeline": 300,
            "crispscrape.pipelines.messages.MessageFilePipeline": 400,
            # Après l'écriture du lot : ses pièces jointes (CRISP_FILES_ENABLED).
            "crispscrape.pipelines.attachments.AttachmentsPipeline": 500,
        },
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._paging = {}
        spider._removal_waiting = []
        spider.site_proven = False
        crawler.signals.connect(spider._batch_written, signal=signals.item_scraped)
        return spider

    def expected_work(self):
        status = self.account_status(profiles=False)
        if status is None:
            return None
        todo = status.listed if self.verify else status.conversations_left + status.recent
        return min(self.nb, todo)

    def export_requests(self):
        self.batch_size = self.settings.getint("CRISP_MESSAGES_BATCH_SIZE")
        self.store = message_store(self.crawler)
        layout = ExportLayout(self.config.data_dir)
        policy = Policy(verify=self.verify,
                        lookback_days=self.settings.getfloat("CRISP_MESSAGES_LOOKBACK_DAYS", 7.0),
                        removed=frozenset(SuppressionLog(layout.suppressions).removed()))
        for rank, session_id in self.store.plan(self.nb, policy):
            yield self._batch_request(ConversationFetch(session_id, rank))

    # --- Pagination -------------------------------------------------------------------
    def _batch_request(self, fetch: ConversationFetch, priority: int = 0):
        url = self.api_config.website_url("conversation", fetch.session_id, "messages")
        if fetch.before is not None:
            url += f"?timestamp_before={fetch.before}"
        return self.api_request(url, self.parse_batch, cb_kwargs={"fetch": fetch},
                                priority=priority, dont_filter=True)

    def parse_batch(self, response, fetch: ConversationFetch):
        try:
            batch = self.api_data(response, list)
            _check_messages(batch)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        try:
            known = self.store.known(fetch.session_id, fetch.rank)
        except StorageError as exc:
            self.crawler.stats.inc_value("crisp_api/failed")
            self.logger.error("%s", exc)
            yield MessageBatch(fetch.session_id, fetch.rank, end="fichier")
            return
        new = any(m["fingerprint"] not in known.stored and m["fingerprint"] not in fetch.seen
                  for m in batch)
        fetch.seen.update(m["fingerprint"] for m in batch)
        self.site_proven = True  # une conversation de l'export répond : le site est le bon
        # Relecture complète : seul un 200 dit la fin de l'historique (un lot court en 206 ne
        # la dit pas), sans quoi la suite serait prise pour supprimée.
        fetch.reached_start = response.status == 200
        last = fetch.reached_start or not batch or (len(batch) < self.batch_size and not self.verify)
        step = self.next_step(batch, last, known, fetch, new)
        if step.overflow:
            fetch.overflowed = True
            self.crawler.stats.inc_value("messages/same_ms_overflow")
            self.logger.warning("Conversation %s : plus de %d messages dans la même milliseconde "
                                "(%d) ; certains peuvent manquer.", fetch.session_id,
                                self.batch_size, step.next_before)
        item = MessageBatch(fetch.session_id, fetch.rank, batch, end=step.end,
                            complete=step.end is not None, next_before=step.next_before)
        if step.end is not None and not fetch.overflowed:
            item.removed = self.removed_on_reread(fetch, known, step)
        if step.next_before is not None:
            fetch.before = step.next_before
            self._paging[fetch.session_id] = fetch
        yield item

    def next_step(self, batch: list[dict], last: bool, known: Known, fetch: ConversationFetch,
                  new: bool) -> Step:
        """Règle de pagination (``next_step``) ; le direct la prolonge (spiders/live.py)."""
        return next_step(batch, last, known, fetch.before, new, full=self.verify)

    def removed_on_reread(self, fetch: ConversationFetch, known: Known, step: Step) -> list:
        """Relue jusqu'à sa fin (-a verify=1) : ce qu'elle ne revoit plus (spiders/live.py)."""
        if not (self.verify and step.end == "fin"):
            return []
        return self._removed_messages(fetch, known, [k for k in known.stored if k not in fetch.seen],
                                      "absent de la relecture complète (-a verify=1)")

    def _removed_messages(self, fetch: ConversationFetch, known: Known, removed: list,
                          evidence: str, base: int | None = None) -> list:
        """Supprimés chez Crisp, annoncés (registre) avant que le lot ne les retire ; ``base`` :
        messages du fichier dans la partie relue (tout le fichier par défaut)."""
        base = len(known.stored) if base is None else base
        if removed and (not fetch.seen or len(removed) > max(3, base // 2)):
            # Lot vide ou qui ne revoit presque rien : une réponse anormale, pas un ménage.
            self.crawler.stats.inc_value("messages/removals_refused")
            self.logger.warning("Conversation %s : la relecture ne revoit que %d des %d "
                                "messages du fichier ; réponse anormale, rien n'est supprimé.",
                                fetch.session_id, len(fetch.seen), len(known.stored))
            return []
        if removed:
            self.crawler.signals.send_catch_log(
                messages_removed, session_id=fetch.session_id, keys=removed,
                evidence=evidence)
            if self.crawler.stats.get_value(CAUSE_STAT) is not None:
                return []  # registre impossible à écrire : rien n'est retiré du fichier
        return removed

    def _batch_written(self, item, response=None, spider=None):
        """Le lot est passé par les pipelines : la conversation peut demander le suivant."""
        if not isinstance(item, MessageBatch) or item.end is not None:
            return
        fetch = self._paging.pop(item.session_id, None)
        if fetch is not None:
            # Priorité aux conversations commencées : peu de fichiers ouverts à la fois.
            self.crawler.engine.crawl(self._batch_request(fetch, priority=1))

    # --- Fins anormales -------------------------------------------------------------
    def _unfinished(self, request, why: str):
        fetch = request.cb_kwargs["fetch"]
        return [MessageBatch(fetch.session_id, fetch.rank, end=why)]

    # --- Récapitulatif ----------------------------------------------------------------
    def summary_lines(self):
        lines = messages_summary(self.crawler.stats, self.store)
        if self.settings.getbool("CRISP_FILES_ENABLED"):
            lines.append(files_line(self.crawler.stats))
        if not self._account_step:
            lines.extend(stale_listing_lines(message_store(self.crawler).conversations_path))
        return lines

    def account_status(self, profiles: bool = True):
        status = super().account_status(profiles)
        if status is not None and not self._account_step:
            status.listing_days_old = listing_days_old(message_store(self.crawler).conversations_path)
        return status

    def messages_state(self):
        # L'état du curseur, s'il est bien celui du fichier : ouvert sans reset (qui l'efface
        # en mémoire seulement), rien d'avancé depuis la dernière écriture.
        store = message_store(self.crawler)
        if not store.opened or self.reset or store.cursor.dirty:
            return None
        return {"done": store.cursor.done, "incomplete": store.cursor.incomplete}


def listing_days_old(path, now: float | None = None) -> int:
    """Âge de la dernière relève de la liste, en jours entiers s'il dépasse un jour, sinon 0
    (absente : 0). Une relève sans rien de neuf n'écrit que l'état du parcours : le plus
    récent des deux fichiers compte."""
    times = []
    for candidate in (path, state_path(Path(path))):
        try:
            times.append(os.stat(candidate).st_mtime)
        except OSError:
            continue
    if not times:
        return 0
    age = (time.time() if now is None else now) - max(times)
    return round(age / 86400) or 1 if age >= STALE_LISTING_SECONDS else 0


def stale_listing_lines(path, now: float | None = None) -> list[str]:
    """Seul, l'export des messages ne voit les nouveaux messages que par les marques d'activité
    de conversations.jsonl : une liste vieille de plus d'un jour peut cacher des jours de
    messages derrière un « compte complet » (l'habitude des trois scripts d'origine)."""
    days = listing_days_old(path, now)
    if not days:
        return []
    return [f"Attention : la liste des conversations ({path}) date de {days} jour(s) ; "
            "les messages arrivés depuis n'y sont pas vus. Lancez « scrapy crawl account » "
            "(liste, messages et profils d'un coup) plutôt que « messages » seul."]


def _check_messages(batch: list) -> None:
    """Chaque message doit avoir un fingerprint et un timestamp entiers (dédoublonnage, tri)."""
    for message in batch:
        if not (isinstance(message, dict) and isinstance(message.get("fingerprint"), int)
                and isinstance(message.get("timestamp"), int)):
            raise InvalidResponse("invalid_message", "message sans fingerprint ou timestamp")
