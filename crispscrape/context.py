"""Ce qu'un export dit de lui-même aux composants de son crawl : un objet, déclaré et typé ici.

Pourquoi : les pipelines, middlewares et extensions lisaient des attributs de l'araignée
(``spider.config``, ``spider.reset``, ``spider.nb``…) et le récapitulatif voyageait dans
``crawler.crisp_summary`` ; ce contrat n'était écrit nulle part. L'araignée pose maintenant
son ``ExportContext`` dans ``from_crawler`` (avant les composants du moteur) ; les autres le
lisent par ``export_context(crawler)``, et ne lui parlent que par les signaux de
crispscrape/signals.py, les items et les statistiques.

Un objet par crawler (rangé dans le crawler, jamais dans une variable du module) : plusieurs
crawls d'un même processus (``scrapy crawl account``) restent séparés.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crispscrape.website import SiteLocks

_ATTRIBUTE = "crisp_export_context"
_LOCKS_ATTRIBUTE = "crisp_site_locks"


@dataclass
class ExportContext:
    # Nom de l'export (conversations, messages…) et système exporté (crispscrape/sources/).
    name: str
    source: Any
    # Configuration non secrète (URL, répertoire, site) ; None si arguments ou configuration
    # sont refusés : aucun composant ne touche alors au disque.
    config: Any
    # -a website=ID (None : ID_SITE_CRISP), -a reset=1, -a nb=N, -a budget=N (None : réglage).
    website: str | None = None
    reset: bool = False
    nb: int = 0
    budget: int | None = None
    # Vrai si le départ a été refusé (arguments, configuration, fichiers) : aucun appel.
    refused: bool = False
    # Vrai pour une étape de ``scrapy crawl account`` (son budget est le reste de l'exécution).
    account_step: bool = False
    # Progression (extensions/progress.py) : statistique du travail fait, son unité, et
    # combien il y en a à faire (posé au départ d'après les fichiers ; None : inconnu).
    progress_key: str | None = None
    progress_unit: str = "éléments"
    progress_expected: int | None = None
    # Le récapitulatif, gardé pour la fin de la commande (CRISP_SUMMARY_AT_EXIT).
    summary: str | None = None
    # Les magasins du crawl, chacun créé par le pipeline qui le possède (pipelines/base.py),
    # qui seul l'ouvre, y écrit et le ferme ; les autres n'y font que lire.
    stores: dict[type, Any] = field(default_factory=dict)
    # Verrous de site de l'exécution (website.py) : les étapes d'un même ``account`` se les
    # repassent ; un crawl seul a les siens.
    site_locks: SiteLocks = field(default_factory=SiteLocks)

    @property
    def ready(self) -> bool:
        """Vrai si l'export peut toucher à ses fichiers (rien n'a été refusé)."""
        return self.config is not None and not self.refused


def publish_context(crawler, context: ExportContext) -> None:
    context.site_locks = getattr(crawler, _LOCKS_ATTRIBUTE, None) or context.site_locks
    setattr(crawler, _ATTRIBUTE, context)


def hand_site_locks(crawler, locks: SiteLocks) -> None:
    """Avant le crawl : les verrous de site de l'exécution entière (``scrapy crawl account``
    en lance plusieurs dans le même processus)."""
    setattr(crawler, _LOCKS_ATTRIBUTE, locks)


def export_context(crawler) -> ExportContext | None:
    """Le contexte posé par l'araignée de ce crawler ; None si elle n'en pose pas (une
    araignée hors de crispscrape, dans un projet qui n'active que l'add-on)."""
    return getattr(crawler, _ATTRIBUTE, None)


def website_of(crawler) -> str | None:
    """-a website=ID de l'export (None : ID_SITE_CRISP, ou pas de contexte)."""
    context = export_context(crawler)
    return context.website if context is not None else None
