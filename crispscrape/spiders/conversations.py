"""``scrapy crawl conversations [-a nb=N] [-a reset=1]`` : la liste des conversations.

Étapes et fichiers (un par étape) :
pagination et reprise (ce fichier) -> dédoublonnage, ajout et tri final
(pipelines/conversations.py) -> fichier et état (stores/conversations.py).

Les pages sont demandées une par une : la décision de continuer dépend de ce que la page
précédente a apporté. Le pipeline enregistre la page, puis le signal item_scraped nous en
donne le bilan : on choisit la page suivante et on enregistre l'état (toujours APRÈS le
fichier, pour qu'un arrêt brutal ne fasse jamais croire qu'une page est enregistrée).

Dérive des pages (de nouvelles conversations poussent les anciennes vers les pages
suivantes ; une conversation qui reprend vie remonte en page 1). Deux parcours :

- le balayage du haut (à chaque exécution dont le fichier n'est pas vide) part de la
  page 1 et s'arrête sur la première page qui n'apporte rien (ni nouvelle ni mise à jour)
  ET descend sous le « filigrane » : la dernière activité la plus récente connue quand le
  haut de la liste était entièrement exporté. Tout ce qui a bougé depuis a une activité
  plus récente, donc se trouve au-dessus : rien n'est sauté, même si le balayage
  précédent avait été coupé par ``nb`` ou le quota (le filigrane n'avance qu'en fin de
  balayage complet) ;
- le rattrapage reprend ensuite l'historique à la page notée dans l'état. Les insertions
  en haut ne font que pousser les pages vers le bas : on redemande au pire quelques
  conversations déjà connues, on n'en saute aucune. Une page vide = historique complet,
  noté dans l'état ; les exécutions suivantes ne font plus que le balayage du haut.

Si le balayage atteint la page du rattrapage, il le poursuit directement.
Explications détaillées : README.md, « Exporter les conversations ».
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from scrapy import signals

from crispscrape.api import InvalidResponse
from crispscrape.model import session_id_of
from crispscrape.pipelines.conversations import ConversationsPage, PageOutcome
from crispscrape.spiders.base import CrispSpider
from crispscrape.storage.files import StorageError, claim_directory
from crispscrape.storage.conversations import ConversationsFile, ListingCursor
from crispscrape.storage.paths import check_output

# Bornes de per_page documentées par Crisp.
PER_PAGE_MIN, PER_PAGE_MAX = 20, 50
SCAN, BACKFILL = "balayage du haut", "rattrapage"


@dataclass
class PageWalk:
    """Décide de la page suivante d'après le bilan de la page reçue, et tient l'état à jour."""

    cursor: ListingCursor
    mode: str
    backfill_page: int
    page: int = 1
    # Activité la plus récente vue en page 1 pendant cette exécution (futur filigrane).
    top: int | None = None
    stop_reason: str = ""

    def advance(self, outcome: PageOutcome, budget_left: int) -> tuple[int | None, bool]:
        """(page suivante ou None, l'état a-t-il changé)."""
        cursor, changed = self.cursor, False
        if self.page == 1:
            self.top = outcome.newest
        if outcome.received == 0:
            # Page vide : la liste est finie ; en balayage, toute la liste vient d'être vue.
            if self.mode == SCAN and self.top is not None:
                cursor.watermark = self.top
            cursor.backfill_complete = True
            cursor.page_number = self.page
            self.stop_reason = "fin de la liste atteinte : historique complet"
            return None, True
        if self.mode == SCAN:
            if not cursor.backfill_complete and self.page >= self.backfill_page:
                # Le balayage rejoint le rattrapage : toutes les pages au-dessus viennent
                # d'être vues, le filigrane peut avancer ; on continue en rattrapage.
                self.mode = BACKFILL
                if self.top is not None:
                    cursor.watermark = self.top
                changed = True
            else:
                return self._scan_next(outcome, budget_left)
        if not outcome.left_over:
            cursor.page_number = self.page + 1
            changed = True
        if self.page == 1 and self.top is not None:
            # Rattrapage depuis la page 1 : tout ce qui bougera ensuite sera plus récent.
            cursor.watermark = self.top
            changed = True
        if outcome.left_over or budget_left <= 0:
            self.stop_reason = f"nombre demandé (nb) atteint ; reprise en page {cursor.page_number}"
            return None, changed
        self.page += 1
        return self.page, changed

    def _scan_next(self, outcome: PageOutcome, budget_left: int) -> tuple[int | None, bool]:
        cursor = self.cursor
        if outcome.left_over:
            self.stop_reason = "nombre demandé (nb) atteint pendant le balayage du haut"
            return None, False
        watermark = cursor.watermark
        quiet = outcome.new == 0 and outcome.updated == 0
        if quiet and watermark is not None and outcome.oldest is not None \
                and outcome.oldest < watermark:
            # Balayage complet : tout ce qui a bougé depuis le dernier est au-dessus.
            if self.top is not None:
                cursor.watermark = self.top
            if cursor.backfill_complete:
                self.stop_reason = "haut de liste à jour, historique déjà complet"
                return None, True
            if budget_left <= 0:
                self.stop_reason = "nombre demandé (nb) atteint"
                return None, True
            self.mode, self.page = BACKFILL, self.backfill_page
            return self.page, True
        if budget_left <= 0:
            self.stop_reason = "nombre demandé (nb) atteint pendant le balayage du haut"
            return None, False
        self.page += 1
        return self.page, False


class ConversationsSpider(CrispSpider):
    name = "conversations"
    default_nb = 400
    custom_settings = {
        "ITEM_PIPELINES": {"crispscrape.pipelines.conversations.ConversationsPipeline": 300},
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.page_saved, signal=signals.item_scraped)
        crawler.signals.connect(spider.page_not_saved, signal=signals.item_error)
        return spider

    # --- Préparation ----------------------------------------------------------------
    def prepare(self) -> None:
        self.per_page = self.settings.getint("CRISP_CONVERSATIONS_PER_PAGE")
        if not PER_PAGE_MIN <= self.per_page <= PER_PAGE_MAX:
            self.stop("config_error", f"CRISP_CONVERSATIONS_PER_PAGE={self.per_page} invalide : "
                                      f"l'API Crisp accepte de {PER_PAGE_MIN} à {PER_PAGE_MAX}.")
        self.include_empty = self.settings.getbool("CRISP_CONVERSATIONS_INCLUDE_EMPTY")
        root = self.config.data_dir / "conversations"
        path = root / "conversations.jsonl"
        check_output(root, path)
        self._lock = claim_directory(root, "export des conversations", self.logger)
        self.cursor = ListingCursor(root / "conversations.jsonl.state.json")
        if self.cursor.path.exists() and not self.cursor.path.is_file():
            raise StorageError(f"{self.cursor.path} existe mais n'est pas un fichier. Rien n'a été "
                               "modifié ; renommez-le ou supprimez-le puis relancez.")
        if self.reset:
            # Seulement maintenant : configuration et arguments sont validés.
            path.unlink(missing_ok=True)
            self.cursor.delete()
            self.logger.info("reset : %s et son état supprimés, export repris de zéro.", path)
        self.cursor.load()
        conversations_file = ConversationsFile(path, self.logger, self.crawler.stats)
        conversations_file.load()
        self.walk = self._plan(conversations_file)
        self.conversations_file = conversations_file
        self.crawler.stats.set_value("conversations/present_before", len(conversations_file))

    def _plan(self, conversations_file: ConversationsFile) -> PageWalk:
        cursor = self.cursor
        if not len(conversations_file):
            if cursor.page_number > 1 or cursor.backfill_complete:
                self.logger.warning("L'état de pagination décrit un fichier de conversations "
                                    "absent ou vide : l'export repart de la page 1.")
            cursor.restart()
            return PageWalk(cursor, BACKFILL, backfill_page=1)
        if not cursor.exists:
            self.logger.info("Pas d'état de pagination à côté d'un fichier non vide : "
                             "l'historique est reparcouru depuis la page 1 (rien n'est "
                             "dupliqué, seules les conversations manquantes sont ajoutées).")
        if cursor.watermark is None:
            # État du script d'origine (ou absent) : la conversation la plus récente du
            # fichier tient lieu de filigrane, ce script parcourant la liste depuis le haut.
            cursor.watermark = conversations_file.newest_at_load
        backfill_page = cursor.resume_page(self.per_page) if cursor.exists else 1
        return PageWalk(cursor, SCAN, backfill_page=backfill_page)

    # --- Requêtes --------------------------------------------------------------------
    def crisp_requests(self):
        yield self.page_request(self.walk.page)

    def page_request(self, page: int):
        params = {"per_page": self.per_page}
        if self.include_empty:
            params["include_empty"] = 1
        url = self.config.website_url("conversations", str(page)) + "?" + urlencode(params)
        return self.api_request(url, self.parse_page, cb_kwargs={"page": page}, dont_filter=True)

    def parse_page(self, response, page: int):
        try:
            conversations = self.api_data(response, list)
            _check_conversations(conversations)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        self.crawler.stats.inc_value("conversations/pages")
        exported = self.crawler.stats.get_value("conversations/exported", 0)
        yield ConversationsPage(page, conversations, limit=max(0, self.nb - exported))

    def resource_missing(self, request):
        # Une page de liste ne peut pas être « introuvable » : c'est un échec, traité comme
        # tout autre (compté, signalé, l'état n'avance pas).
        return self._failed(request, "page de conversations introuvable (HTTP 404)")

    # --- Suite du parcours, une fois la page enregistrée ------------------------------
    def page_saved(self, item, response, spider):
        if not isinstance(item, ConversationsPage) or item.outcome is None:
            return
        stats = self.crawler.stats
        outcome, mode = item.outcome, self.walk.mode
        exported = stats.get_value("conversations/exported", 0)
        self.logger.info(
            "Page %d (%s) : %d reçues, %d nouvelles, %d mises à jour, %d déjà présentes, "
            "%d sans session_id. Progression : %d/%d exportées, %d ignorées car déjà présentes.",
            item.page, mode, outcome.received, outcome.new, outcome.updated, outcome.present,
            outcome.invalid, exported, self.nb, stats.get_value("conversations/ignored_present", 0))
        try:
            next_page, changed = self.walk.advance(outcome, self.nb - exported)
            if changed:
                self.cursor.save(self.per_page)
        except (OSError, StorageError) as exc:
            self.abort("output_error", f"Impossible d'enregistrer l'état {self.cursor.path} : "
                                       f"{getattr(exc, 'strerror', None) or exc}. Les conversations "
                                       "déjà écrites sont intactes.")
            return
        if next_page is not None:
            self.crawler.engine.crawl(self.page_request(next_page))
        else:
            self.logger.info("Arrêt du parcours : %s.", self.walk.stop_reason)

    def page_not_saved(self, item, response, spider, failure):
        if isinstance(item, ConversationsPage):
            self.abort("output_error", f"Page {item.page} non enregistrée : "
                                       f"{failure.getErrorMessage()} Arrêt de l'export.")

    # --- Récapitulatif ----------------------------------------------------------------
    def summary_lines(self):
        conversations_file = getattr(self, "conversations_file", None)
        if conversations_file is None:
            return
        stats = self.crawler.stats
        total = len(conversations_file)
        stats.set_value("conversations/total", total)
        yield (f"Conversations exportées : {stats.get_value('conversations/exported', 0)} ; "
               f"ignorées car déjà présentes : {stats.get_value('conversations/ignored_present', 0)} ; "
               f"mises à jour : {stats.get_value('conversations/updated', 0)} ; "
               f"ignorées sans session_id : {stats.get_value('conversations/ignored_invalid', 0)}.")
        yield f"Le fichier {conversations_file.path} contient désormais {total} conversations."
        if self.cursor.backfill_complete:
            yield ("Historique complet : les prochaines exécutions ne parcourront que le haut "
                   "de la liste.")
        else:
            yield (f"Historique incomplet : le rattrapage reprendra page {self.cursor.page_number} "
                   f"({self.per_page} par page).")


def _check_conversations(page: list) -> None:
    """Chaque élément d'une page doit être un objet avec un session_id utilisable.

    Sinon la page est abîmée (souvent en passant) : elle est redemandée, comme un lot de
    messages abîmé, et n'est jamais marquée comme faite ; l'ignorer ferait perdre pour de
    bon les conversations qu'elle aurait dû contenir.
    """
    for conversation in page:
        if session_id_of(conversation) is None:
            raise InvalidResponse("invalid_conversation",
                                  "élément de la liste sans session_id (pas un objet ?)")
