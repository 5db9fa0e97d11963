"""Ce qu'un export affiche par défaut : sa progression, ses alertes, ses erreurs, son bilan.

Pourquoi : un ``scrapy crawl account`` réussi écrivait ~390 lignes (bannières de Scrapy,
réglages, vidage des statistiques) ; avec une clé fausse, la ligne utile était la 66e de 132.
Par défaut (un terminal, ou le tuyau d'une tâche cron) la commande crawl du projet coupe donc
le gestionnaire de journal de Scrapy (``LOG_ENABLED`` à False) et pose le sien sur le journal
racine, qui ne laisse passer que :

- les lignes marquées pour la console (``console_extra()``) : progression et récapitulatifs ;
- les alertes et les erreurs (au moins WARNING, ou le niveau demandé par ``-L`` s'il est
  plus haut), préfixées « Attention : » / « Erreur : », jamais un « WARNING » sur une bonne
  nouvelle.

``-L INFO``, ``-L DEBUG`` ou un ``LOG_FILE`` (ce que pose scrapyd) gardent tout, comme Scrapy ;
``--nolog`` n'affiche rien. Les composants n'ont qu'à marquer leurs lignes (``extra=console_extra()``) :
le choix du mode est fait une fois, par la commande (réglage ``CRISP_CONSOLE``).
"""

from __future__ import annotations

import logging

from scrapy.settings import SETTINGS_PRIORITIES

# Attribut d'un enregistrement de journal à montrer en mode console.
CONSOLE_FLAG = "crisp_console"


def console_extra() -> dict:
    """``extra`` d'une ligne à montrer : un dictionnaire neuf à chaque fois, car l'adaptateur
    du journal d'une araignée de Scrapy y ajoute l'araignée."""
    return {CONSOLE_FLAG: True}


# Niveaux qui gardent tout le journal de Scrapy quand ils sont demandés explicitement.
FULL_LEVELS = {"DEBUG", "INFO"}
# Journaux de Scrapy dont les erreurs sont déjà dites en français, une fois, par nos
# composants : « Gave up retrying <GET …> » (une ligne anglaise par ressource ou pièce jointe)
# l'est par « Échec définitif sur … » et par le bilan des pièces jointes.
QUIET_LOGGERS = ("scrapy.downloadermiddlewares.retry",)


def wants_console(settings) -> bool:
    """Vrai si la commande doit afficher le journal court (voir le docstring du module)."""
    if settings.get("LOG_FILE") or not settings.getbool("LOG_ENABLED"):
        return False
    explicit = settings.getpriority("LOG_LEVEL") >= SETTINGS_PRIORITIES["cmdline"]
    return not (explicit and str(settings.get("LOG_LEVEL")).upper() in FULL_LEVELS)


def console_level(settings) -> int:
    """Niveau à partir duquel une ligne non marquée s'affiche : WARNING, ou plus haut (-L)."""
    level = logging.getLevelName(str(settings.get("LOG_LEVEL") or "WARNING").upper())
    return max(logging.WARNING, level if isinstance(level, int) else logging.WARNING)


class ConsoleFilter(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, CONSOLE_FLAG, False):
            return True
        return record.levelno >= self.level and not record.name.startswith(QUIET_LOGGERS)


class ConsoleFormatter(logging.Formatter):
    """Le message seul ; « Attention : » ou « Erreur : » devant une alerte ou une erreur."""

    PREFIXES = {logging.WARNING: "Attention : ", logging.ERROR: "Erreur : ",
                logging.CRITICAL: "Erreur : "}

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (nom de logging)
        prefix = "" if getattr(record, CONSOLE_FLAG, False) else self.PREFIXES.get(
            record.levelno, "")
        return prefix + record.getMessage()


class ConsoleHandler(logging.StreamHandler):
    """Le gestionnaire du mode console (sortie d'erreur, comme celui de Scrapy)."""


def install_console(settings) -> None:
    """Pose (une fois par processus) le gestionnaire du mode console sur le journal racine.

    Le journal « scrapy » passe au niveau de la console : ses lignes INFO ne seraient de
    toute façon pas affichées, autant ne pas les fabriquer (une par réponse en DEBUG)."""
    root = logging.getLogger()
    level = console_level(settings)
    for handler in list(root.handlers):
        if isinstance(handler, ConsoleHandler):
            root.removeHandler(handler)
    handler = ConsoleHandler()
    handler.addFilter(ConsoleFilter(level))
    handler.setFormatter(ConsoleFormatter())
    root.addHandler(handler)
    logging.getLogger("scrapy").setLevel(level)


class Repeats:
    """À l'écran (mode console), les premières occurrences d'une même sorte de ligne
    seulement (``SHOWN`` par clé) : 300 pièces jointes d'un hôte injoignable font 3 lignes et
    un compte au bilan, pas 300 lignes. Le journal complet (-L INFO, LOG_FILE) les garde
    toutes. Le composant qui en a besoin en garde une (pas d'état partagé)."""

    SHOWN = 3

    def __init__(self, settings=None) -> None:
        self.counts: dict[str, int] = {}
        self.limited = settings is None or settings.getbool("CRISP_CONSOLE")

    def first(self, key: str) -> bool:
        """Compte une occurrence ; vrai si elle est à dire (parmi les SHOWN premières, ou
        toujours hors du mode console)."""
        self.counts[key] = self.counts.get(key, 0) + 1
        return not self.limited or self.counts[key] <= self.SHOWN
