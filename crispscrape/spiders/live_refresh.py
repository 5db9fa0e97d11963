"""Le direct, étape 3 : relire par REST ce que les événements ne disent pas tout à fait.

Un événement n'a pas tous les champs d'un message REST (``read``, ``delivered``,
``edited``…) et le flux peut perdre des événements. Deux sortes de tours, jamais deux à la
fois, dans le même processus et le même budget :

- **réglage** : les conversations touchées par des événements et calmes depuis
  ``CRISP_LIVE_SETTLE_MINUTES`` sont relues (le plus souvent un appel : le lot le plus
  récent), après quoi leur fichier est celui qu'écrirait ``scrapy crawl messages`` ;
- **réconciliation** : au départ, après chaque reconnexion et toutes les
  ``CRISP_LIVE_RECONCILE_HOURS``, la relève d'``account`` : le haut de la liste, puis les
  conversations nouvelles, changées (empreintes comparées, jamais les horloges) ou
  incomplètes. La fenêtre de revérification ne couvre que la coupure qui précède (aucune
  coupure : aucun appel de fenêtre ; voir paging/live.py).

Une conversation n'est relue qu'après un balayage du haut de la liste fait depuis son dernier
événement (la même marche que l'export des conversations, ``CrispListWalk``, arrêtée quand le
haut est à jour) : la ligne d'une nouvelle conversation et l'empreinte de chaque conversation
relue y sont prises, pour qu'``account`` ensuite n'ait rien à refaire (0 appel de messages
pour une conversation réglée). L'empreinte est toujours prise avant les messages : un
changement entre les deux coûte une relecture, jamais une perte. Au plus un balayage de
réglage par ``CRISP_LIVE_LIST_MINUTES`` (docs/bench.md, journée simulée).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import Any

from scrapy import signals

from crispscrape.arguments import UNLIMITED
from crispscrape.items import ConversationsPage, MessageBatch
from crispscrape.model import session_id_of
from crispscrape.outcome import CAUSE_STAT
from crispscrape.paging.conversations import SCAN, plan_walk
from crispscrape.paging.live import GAP_MARGIN_SECONDS as MARGIN
from crispscrape.paging.live import due, gap_lookback_days, settle_round
from crispscrape.paging.selection import Policy
from crispscrape.pipelines.conversations import ConversationsPipeline
from crispscrape.signals import listing_advanced, live_settled, removals_due
from crispscrape.spiders.conversations import page_url, parsed_page
from crispscrape.spiders.live_gap import LiveGap
from crispscrape.spiders.live_profiles import LiveProfiles
from crispscrape.storage.files import StorageError
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.suppressions import SuppressionLog

# Rôle d'une page de liste du direct dans request.meta.
SWEEP = "crisp_live_sweep"
# Fins d'une relecture qui la règlent (toutes les autres : échec, arrêt, à refaire).
SETTLING_ENDS = ("fin", "à jour", "supprimée", "introuvable")


@dataclass
class Cycle:
    """Un tour : réglage (``targets``) ou réconciliation (``targets`` None)."""

    started: float
    targets: set[str] | None
    lookback_days: float = 0.0
    walk: Any = None
    waiting: set[str] = field(default_factory=set)
    # Réconciliation : la coupure qu'elle couvre (None : inconnue) et son début noté (rendu
    # si elle échoue ; spiders/live_gap.py).
    gap: float | None = 0.0
    since: float | None = None
    # Conversations vues dans les pages du balayage de ce tour ; une relecture a échoué.
    listed: set[str] = field(default_factory=set)
    failed: bool = False


class LiveRefresh(LiveGap, LiveProfiles):
    """À placer avant ``MessagesSpider`` (dont il reprend la pagination des messages)."""

    crawler: Any
    settings: Any
    logger: Any
    store: Any
    rtm: Any
    config: Any
    _refreshing: dict[str, asyncio.Event]
    _gone: set[str]
    erase_due: bool
    _batch_request: Any
    fetch_for: Any  # (session_id, floor) -> ConversationFetch (spiders/live.py)

    def setup_refresh(self, journal) -> None:
        settings = self.settings
        self.journal = journal  # lu seulement (le pipeline du journal y écrit)
        self.settle_seconds = settings.getfloat("CRISP_LIVE_SETTLE_MINUTES", 30.0) * 60
        self.reconcile_seconds = settings.getfloat("CRISP_LIVE_RECONCILE_HOURS", 24.0) * 3600
        self.default_lookback = settings.getfloat("CRISP_MESSAGES_LOOKBACK_DAYS", 7.0)
        self.list_seconds = settings.getfloat("CRISP_LIVE_LIST_MINUTES", 60.0) * 60
        # Début du dernier balayage de liste, et pour chaque conversation à régler, celui du
        # dernier balayage qui l'a vue (son empreinte dans conversations.jsonl en vient).
        self._swept_at = float("-inf")
        self._listed_at: dict[str, float] = {}
        self.cycle: Cycle | None = None
        self._refreshing = {}
        self._retry_after: dict[str, float] = {}
        # Profils demandés (people_id -> heure de la demande).
        self._profiles_asked: dict[str, float] = {}
        self.setup_gap(journal)
        self._last_reconcile = 0.0
        self._sweep_retry_at = 0.0
        layout = ExportLayout(self.config.data_dir)
        log = SuppressionLog(layout.suppressions)
        self._gone = log.removed() | log.removed("message")
        self.crawler.signals.connect(self._refresh_done, signal=signals.item_scraped)
        self.crawler.signals.connect(self._refresh_error, signal=signals.item_error)
        self.crawler.signals.connect(self._refresh_error, signal=signals.item_dropped)

    async def refresh_loop(self) -> None:
        interval = max(0.02, min(1.0, self.settle_seconds / 4))
        while self.crawler.stats.get_value(CAUSE_STAT) is None:
            try:
                self.tick(time.time())
            except (OSError, StorageError) as exc:
                # Fichiers illisibles le temps d'un coup d'œil : dit, et réessayé au suivant.
                self.logger.error("Direct : relecture impossible à préparer (%s) ; nouvel "
                                  "essai dans %.0f s.", exc, interval)
            await asyncio.sleep(interval)

    def tick(self, now: float) -> None:
        connected = self._watch_connection(now)
        self._refresh_profiles(now)
        if self.cycle is not None or now < self._sweep_retry_at:
            return
        if self.erase_due and not self._refreshing:
            # Aucune relecture en cours : l'effacement ne croise aucune écriture.
            self.erase_due = False
            self.crawler.signals.send_catch_log(removals_due)
        # La réconciliation attend la connexion : ce qui arrive ensuite, le flux le dira.
        if connected and (self._reconcile_due
                          or now - self._last_reconcile >= self.reconcile_seconds):
            gap, since = self._take_gap(now)
            self._last_reconcile = now
            self._start(Cycle(now, None, gap_lookback_days(gap, self.default_lookback), gap=gap,
                              since=since))
            return
        ready = [s for s in due(self.journal.unsettled, now, self.settle_seconds)
                 if s not in self._refreshing and self._retry_after.get(s, 0) <= now]
        targets, sweep = settle_round(ready, self.journal.unsettled, self._listed_at, now,
                                      self._swept_at, self.list_seconds)
        if targets:
            self._start(Cycle(now, targets), sweep=sweep)

    # --- Un tour : balayage du haut de la liste, puis relectures --------------------------
    def _start(self, cycle: Cycle, sweep: bool = True) -> None:
        self.cycle = cycle
        self.crawler.stats.inc_value("live/reconciliations" if cycle.targets is None
                                     else "live/settle_rounds")
        store = ConversationsPipeline.store_for(self.crawler)
        try:
            walk = plan_walk(store.position(), len(store), store.file.newest_at_load,
                             store.per_page)
        except (OSError, StorageError):
            self._abandon(cycle)
            raise
        if not sweep or walk.mode != SCAN:
            # Liste jamais relevée : le balayage est à faire par « account » d'abord.
            self._select()
            return
        cycle.walk = walk
        self._swept_at = cycle.started
        self._request_page(walk.page)

    def _request_page(self, page: int) -> None:
        per_page = ConversationsPipeline.store_for(self.crawler).per_page
        self.crawler.engine.crawl(self.api_request(
            page_url(self, page, per_page), self.parse_sweep_page, cb_kwargs={"page": page},
            meta={SWEEP: True}, priority=2, dont_filter=True))

    def parse_sweep_page(self, response, page: int):
        return parsed_page(self, response, page, UNLIMITED, "live/list_pages")

    def _page_saved(self, item: ConversationsPage) -> None:
        cycle = self.cycle
        if cycle is None or cycle.walk is None or item.outcome is None:
            return
        walk, outcome = cycle.walk, item.outcome
        listed = {str(session_id_of(c)) for c in item.conversations}
        cycle.listed |= listed
        for session_id in listed & self.journal.unsettled.keys():
            self._listed_at[session_id] = cycle.started
        watermark = walk.position.watermark
        next_page, changed = walk.advance(outcome, budget_left=UNLIMITED)
        if changed:
            self.crawler.signals.send_catch_log(listing_advanced, position=replace(walk.position),
                                                seen=None, census_done=False)
        # Réglage : toutes ses conversations vues, et la page descend sous le haut du dernier
        # balayage complet (tout ce qui a bougé depuis est au-dessus) : une page suffit. La
        # position n'avance pas ; le prochain balayage complet la fera avancer.
        enough = cycle.targets is not None and cycle.targets <= cycle.listed \
            and watermark is not None and outcome.oldest is not None \
            and outcome.oldest < watermark
        if next_page is not None and walk.mode == SCAN and not enough:
            self._request_page(next_page)
        else:
            # Haut de liste à jour (le rattrapage et le recensement restent à « account »).
            self._select()

    def sweep_failed(self) -> list:
        """Page de liste perdue (échec, arrêt) : le tour s'arrête, repris au prochain coup."""
        cycle, self.cycle, self._swept_at = self.cycle, None, float("-inf")
        # Pas de nouveau tour avant un délai : une API en panne ne coûte pas un appel par seconde.
        self._sweep_retry_at = time.time() + max(1.0, min(self.settle_seconds, 60.0))
        if cycle is not None and cycle.targets is None:
            self._reconcile_due = True
            self._gap_covered(cycle.since, failed=True)
        return []

    def _select(self) -> None:
        cycle = self.cycle
        if cycle is None:
            return
        policy = Policy(lookback_days=cycle.lookback_days, removed=frozenset(self._gone))
        try:
            chosen = self.store.choose(policy, cycle.targets)
        except (OSError, StorageError):
            self._abandon(cycle)
            raise
        # Après une coupure connue, chaque relecture descend jusqu'à son début (et la marge),
        # jamais plus bas que la fenêtre d'account.
        depth = min((cycle.gap or 0) + MARGIN, self.default_lookback * 86400)
        floor = int((cycle.started - depth) * 1000) if cycle.gap else None
        for session_id in chosen:
            self._refreshing[session_id] = asyncio.Event()
            cycle.waiting.add(session_id)
            self.crawler.engine.crawl(self._batch_request(self.fetch_for(session_id, floor),
                                                          priority=1))
        if cycle.targets is None:
            self.logger.info("Direct : réconciliation, %d conversation(s) à relire.", len(chosen))
        if not chosen:
            self._cycle_over(cycle)

    def _abandon(self, cycle: Cycle) -> None:
        # Fichiers illisibles le temps d'un tour : abandonné (il bloquerait tous les suivants),
        # sa coupure rendue ; l'erreur est dite par l'appelant.
        cycle.failed = True
        self._cycle_over(cycle)

    def _cycle_over(self, cycle: Cycle) -> None:
        self.cycle = None
        if cycle.targets is None:
            self._gap_covered(cycle.since, cycle.failed)

    def _refresh_done(self, item, response=None, spider=None) -> None:
        if self.profile_item_done(item):
            return
        if isinstance(item, ConversationsPage):
            self._page_saved(item)
        elif isinstance(item, MessageBatch) and item.end is not None:
            self._ended(item.session_id, item.end in SETTLING_ENDS)

    def _refresh_error(self, item, response=None, spider=None, failure=None) -> None:
        # Un profil écarté (fiche non valide) ou non écrit : rien de plus à faire de lui ici.
        if not self.profile_item_done(item) and isinstance(item, MessageBatch) \
                and item.end is not None:
            self._ended(item.session_id, False)

    def _ended(self, session_id: str, settled: bool) -> None:
        event = self._refreshing.pop(session_id, None)
        if event is None:
            return
        self._listed_at.pop(session_id, None)
        self._retry_after.pop(session_id, None)  # la mémoire ne grandit pas avec les échecs
        event.set()
        cycle = self.cycle
        started = cycle.started if cycle is not None else time.time()
        if settled:
            self.crawler.signals.send_catch_log(live_settled, session_id=session_id,
                                                started=started)
        else:
            # Échec : réessayée après un nouveau délai de calme, pas en boucle.
            self._retry_after[session_id] = time.time() + self.settle_seconds
        if cycle is not None:
            cycle.failed = cycle.failed or not settled
            cycle.waiting.discard(session_id)
            if not cycle.waiting:
                self._cycle_over(cycle)
