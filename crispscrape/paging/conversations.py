"""Parcours de la liste des conversations Crisp : quelle page demander ensuite.

Deux parcours, contre la dérive des pages (les nouvelles conversations poussent les autres
vers le bas, une conversation qui reprend vie remonte en page 1) :

- le balayage du haut part de la page 1 et s'arrête sur la première page qui n'apporte rien
  ET descend sous le filigrane (dernière activité connue quand le haut était entièrement
  exporté ; il n'avance qu'en fin de balayage complet) : ce qui a bougé est au-dessus ;
- le rattrapage reprend l'historique à la page notée : des insertions en haut font
  redemander quelques conversations, jamais en sauter. Une page vide = historique complet.

Pourquoi rien n'est sauté, même coupé par ``nb`` ou le quota : docs/conversations.md. La
décision est prise par l'araignée d'après le bilan de chaque page enregistrée
(``PageOutcome``), comme ``next_step`` pour les lots de messages ; la position avance sur une
copie, que le magasin enregistre (signal ``listing_advanced``, storage/listing.py). Testé seul
dans tests/unit/test_listing_walk.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from crispscrape.items import PageOutcome

logger = logging.getLogger(__name__)

SCAN, BACKFILL, CENSUS = "balayage du haut", "rattrapage", "recensement"


@dataclass
class ListingPosition:
    """Ce que dit l'état. Une valeur : le magasin garde celle du fichier, l'araignée fait
    avancer sa copie et la renvoie au magasin par le signal ``listing_advanced``."""

    page_number: int = 1
    per_page: int | None = None
    backfill_complete: bool = False
    # Dernière activité (ms) sous laquelle tout ce qui précède le rattrapage est connu.
    watermark: int | None = None
    original: bool = False  # état écrit par le script d'origine (conv.py)
    exists: bool = False
    # Recensement (liste entière, pour trouver ce que Crisp a supprimé : docs/suppressions.md) :
    # fin du dernier (ms) et, s'il est en cours, sa prochaine page. Écrits seulement s'ils
    # ont une valeur : l'état d'un export sans recensement ne change pas.
    census_at: int | None = None
    census_page: int | None = None

    def resume_page(self, per_page: int) -> int:
        """Page du rattrapage à demander avec la taille de page actuelle. La position (nombre
        de conversations déjà parcourues) est convertie si la taille de page a changé, en
        arrondissant vers le haut de la liste : on redemande un peu, on ne saute rien. L'état
        du script d'origine avance d'une page même quand --nb coupe la page en cours : on
        reprend donc une page plus tôt pour ne rien manquer."""
        old = self.per_page or per_page
        offset = (self.page_number - 1) * old
        if self.original:
            offset = max(0, offset - old)
        return offset // per_page + 1

    def restart(self) -> None:
        """Repart comme une première exécution (le fichier décrit par l'état a disparu)."""
        self.page_number, self.backfill_complete, self.watermark = 1, False, None
        self.original = False


@dataclass
class CrispListWalk:
    """Décide de la page suivante d'après le bilan de la page reçue, et fait avancer sa position.

    Le recensement (``CENSUS``) parcourt la liste jusqu'à la page vide sans s'arrêter tôt :
    l'araignée compare alors les conversations vues aux conversations connues (une suppression
    se confirme par un appel, voir spiders/conversations.py). Il commence quand le balayage du
    haut est à jour et qu'il est dû (``census_due``), ou tout de suite si une page n'est pas
    triée par dernière activité : le balayage, qui suppose cet ordre, ne peut plus s'arrêter
    tôt. Toute liste vue en entière depuis la page 1 dans une exécution en est un.
    """

    position: ListingPosition
    mode: str
    backfill_page: int
    page: int = 1
    # Activité la plus récente vue en page 1 pendant cette exécution (futur filigrane).
    top: int | None = None
    stop_reason: str = ""
    # Recensement à faire après le balayage (CRISP_CENSUS_DAYS écoulés, -a census=1, ou en
    # cours) ; l'heure (ms) qui datera sa fin.
    census_due: bool = False
    now_ms: int = 0
    # Annonces à l'araignée : le recensement commence à cette avance ; la liste entière vient
    # d'être vue (à comparer aux conversations connues) ; une page était hors d'ordre.
    census_started: bool = False
    census_complete: bool = False
    disordered: bool = False
    # Vrai tant que les pages de cette exécution se suivent depuis la page 1, sans saut.
    contiguous: bool = True

    def advance(self, outcome: PageOutcome, budget_left: int) -> tuple[int | None, bool]:
        """(page suivante ou None, l'état a-t-il changé)."""
        position = self.position
        self.census_started = False
        if self.page == 1:
            self.top = outcome.newest
        if outcome.out_of_order and not self.disordered:
            self.disordered = True
            if self.mode == SCAN:
                self._start_census(self.page + 1)
        if outcome.received == 0:
            return self._list_end()
        if self.mode == CENSUS:
            # Une page coupée par nb est redemandée ; sinon on reprend à la suivante.
            position.census_page = self.page if outcome.left_over else self.page + 1
            if outcome.left_over or budget_left <= 0:
                self.stop_reason = ("nombre demandé (nb) atteint pendant le recensement ; "
                                    f"reprise en page {position.census_page}")
                return None, True
            self.page += 1
            return self.page, True
        changed = False
        if self.mode == SCAN:
            if not position.backfill_complete and self.page >= self.backfill_page:
                # Le balayage rejoint le rattrapage : toutes les pages au-dessus viennent
                # d'être vues, le filigrane peut avancer ; on continue en rattrapage.
                self.mode = BACKFILL
                if self.top is not None:
                    position.watermark = self.top
                changed = True
            else:
                return self._scan_next(outcome, budget_left)
        if not outcome.left_over:
            position.page_number = self.page + 1
            changed = True
        if self.page == 1 and self.top is not None:
            # Rattrapage depuis la page 1 : tout ce qui bougera ensuite sera plus récent.
            position.watermark = self.top
            changed = True
        if outcome.left_over or budget_left <= 0:
            self.stop_reason = f"nombre demandé (nb) atteint ; reprise en page {position.page_number}"
            return None, changed
        self.page += 1
        return self.page, changed

    def _list_end(self) -> tuple[None, bool]:
        """Page vide : la liste est finie. Vue en entier depuis la page 1 (balayage ou
        premier rattrapage), ou au bout d'un recensement (repris : son journal a les pages
        des exécutions précédentes), c'est un recensement complet."""
        position = self.position
        if self.contiguous and self.top is not None:
            position.watermark = self.top
        position.backfill_complete = True
        position.page_number = self.page
        self.stop_reason = "fin de la liste atteinte : historique complet"
        if self.contiguous or self.mode == CENSUS:
            position.census_at, position.census_page = self.now_ms, None
            self.census_complete = True
            if self.mode == CENSUS:
                self.stop_reason = "fin du recensement : liste entière vue"
        return None, True

    def _start_census(self, page: int) -> None:
        """Passe en recensement à ``page`` ; un recensement interrompu reprend à sa page s'il
        n'est pas déjà dépassé (les pages d'avant ont été vues dans cette exécution)."""
        resume = self.position.census_page
        if resume is not None and resume > page:
            page, self.contiguous = resume, False
        self.mode, self.census_started = CENSUS, True
        self.position.census_page = page
        self.page = page - 1  # ``advance`` passe à la page suivante

    def _scan_next(self, outcome: PageOutcome, budget_left: int) -> tuple[int | None, bool]:
        position = self.position
        if outcome.left_over:
            self.stop_reason = "nombre demandé (nb) atteint pendant le balayage du haut"
            return None, False
        watermark = position.watermark
        quiet = outcome.new == 0 and outcome.updated == 0
        if quiet and watermark is not None and outcome.oldest is not None \
                and outcome.oldest < watermark:
            # Balayage complet : tout ce qui a bougé depuis le dernier est au-dessus.
            if self.top is not None:
                position.watermark = self.top
            if position.backfill_complete and not self.census_due:
                self.stop_reason = "haut de liste à jour, historique déjà complet"
                return None, True
            if budget_left <= 0:
                self.stop_reason = "nombre demandé (nb) atteint"
                return None, True
            if position.backfill_complete:
                self._start_census(self.page + 1)
                self.page += 1
                return self.page, True
            self.contiguous = self.backfill_page <= self.page + 1
            self.mode, self.page = BACKFILL, self.backfill_page
            return self.page, True
        if budget_left <= 0:
            self.stop_reason = "nombre demandé (nb) atteint pendant le balayage du haut"
            return None, False
        self.page += 1
        return self.page, False


DAY_MS = 24 * 3600 * 1000


def census_due(position: ListingPosition, days: float, now_ms: int, forced: bool) -> bool:
    """Un recensement est-il à faire ? Forcé (-a census=1), en cours, ou le dernier date de
    ``days`` jours ou plus (CRISP_CENSUS_DAYS ; 0 = jamais, sauf forcé ou en cours)."""
    if forced or position.census_page is not None:
        return True
    return days > 0 and position.census_at is not None \
        and now_ms - position.census_at >= days * DAY_MS


def plan_walk(position: ListingPosition, stored: int, newest: int | None, per_page: int,
              census: bool = False, now_ms: int | None = None) -> CrispListWalk:
    """Premier parcours de l'exécution, d'après l'état et le fichier (``stored`` lignes,
    ``newest`` : activité la plus récente du fichier à son ouverture). ``position`` : une
    copie de la position enregistrée, qui appartient désormais au parcours. ``census`` : un
    recensement est dû (``census_due``) ; ``now_ms`` : l'heure qui datera sa fin (l'heure
    réelle par défaut)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if not stored:
        if position.page_number > 1 or position.backfill_complete:
            logger.warning("L'état de pagination décrit un fichier de conversations absent ou "
                           "vide : l'export repart de la page 1.")
        position.restart()
        return CrispListWalk(position, BACKFILL, backfill_page=1, now_ms=now_ms)
    if not position.exists:
        logger.info("Pas d'état de pagination à côté d'un fichier non vide : l'historique est "
                    "reparcouru depuis la page 1 (rien n'est dupliqué, seules les conversations "
                    "manquantes sont ajoutées).")
    if position.watermark is None:
        # État du script d'origine (ou absent) : la conversation la plus récente du fichier
        # tient lieu de filigrane, ce script parcourant la liste depuis le haut.
        position.watermark = newest
    if position.backfill_complete and position.census_at is None:
        # Export d'avant le recensement : son horloge part d'ici (-a census=1 le force).
        position.census_at = now_ms
    backfill_page = position.resume_page(per_page) if position.exists else 1
    return CrispListWalk(position, SCAN, backfill_page=backfill_page, census_due=census,
                         now_ms=now_ms)
