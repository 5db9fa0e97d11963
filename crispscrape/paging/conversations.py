"""Parcours de la liste des conversations Crisp : quelle page demander ensuite.

Les deux parcours (balayage du haut, rattrapage), le filigrane et la dérive des pages sont
décrits dans crispscrape/storage/listing.py, qui garde leur état (``ListingPosition``) ; ici,
la décision, prise par l'araignée d'après le bilan de chaque page enregistrée
(``PageOutcome``), comme ``next_step`` pour les lots de messages. La position avance sur une
copie, que le magasin enregistre (signal ``listing_advanced``). Testé seul dans
tests/unit/test_listing_walk.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crispscrape.items import PageOutcome
from crispscrape.storage.listing import BACKFILL, SCAN, ListingPosition

logger = logging.getLogger(__name__)


@dataclass
class CrispListWalk:
    """Décide de la page suivante d'après le bilan de la page reçue, et fait avancer sa position."""

    position: ListingPosition
    mode: str
    backfill_page: int
    page: int = 1
    # Activité la plus récente vue en page 1 pendant cette exécution (futur filigrane).
    top: int | None = None
    stop_reason: str = ""

    def advance(self, outcome: PageOutcome, budget_left: int) -> tuple[int | None, bool]:
        """(page suivante ou None, l'état a-t-il changé)."""
        position, changed = self.position, False
        if self.page == 1:
            self.top = outcome.newest
        if outcome.received == 0:
            # Page vide : la liste est finie ; en balayage, toute la liste vient d'être vue.
            if self.mode == SCAN and self.top is not None:
                position.watermark = self.top
            position.backfill_complete = True
            position.page_number = self.page
            self.stop_reason = "fin de la liste atteinte : historique complet"
            return None, True
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
            if position.backfill_complete:
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


def plan_walk(position: ListingPosition, stored: int, newest: int | None, per_page: int) -> CrispListWalk:
    """Premier parcours de l'exécution, d'après l'état et le fichier (``stored`` lignes,
    ``newest`` : activité la plus récente du fichier à son ouverture). ``position`` : une
    copie de la position enregistrée, qui appartient désormais au parcours."""
    if not stored:
        if position.page_number > 1 or position.backfill_complete:
            logger.warning("L'état de pagination décrit un fichier de conversations absent ou "
                           "vide : l'export repart de la page 1.")
        position.restart()
        return CrispListWalk(position, BACKFILL, backfill_page=1)
    if not position.exists:
        logger.info("Pas d'état de pagination à côté d'un fichier non vide : l'historique est "
                    "reparcouru depuis la page 1 (rien n'est dupliqué, seules les conversations "
                    "manquantes sont ajoutées).")
    if position.watermark is None:
        # État du script d'origine (ou absent) : la conversation la plus récente du fichier
        # tient lieu de filigrane, ce script parcourant la liste depuis le haut.
        position.watermark = newest
    backfill_page = position.resume_page(per_page) if position.exists else 1
    return CrispListWalk(position, SCAN, backfill_page=backfill_page)
