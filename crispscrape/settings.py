"""Réglages Scrapy du projet crispscrape : seulement ce qui tient au projet lui-même.

Toutes les valeurs par défaut de l'exportateur (réglages CRISP_*, réessais, ralentissement,
AutoThrottle, JSON-RPC) et le branchement de ses composants viennent de l'add-on
crispscrape.addon.CrispAddon, activé ci-dessous : un seul endroit, qui marche aussi dans un
autre projet Scrapy. Chaque réglage est documenté dans crispscrape/addon.py et le README.
Tout réglage se surcharge en ligne de commande : ``scrapy crawl messages -s NOM=valeur``.
"""

BOT_NAME = "crispscrape"
SPIDER_MODULES = ["crispscrape.spiders"]
NEWSPIDER_MODULE = "crispscrape.spiders"
# Notre commande ``crawl`` remplace celle de Scrapy : même usage, mais le code de sortie
# dit si l'export a échoué ou doit être relancé (voir crispscrape/commands/crawl.py).
COMMANDS_MODULE = "crispscrape.commands"

ADDONS = {"crispscrape.addon.CrispAddon": 0}

LOG_LEVEL = "INFO"

EXTENSIONS = {
    # Les données vont dans CRISP_DATA_DIR et nulle part ailleurs : scrapyd ajoute FEEDS
    # quand items_dir est défini, et un flux Scrapy (-o) copierait sinon chaque message
    # hors du répertoire de données (et dans un dossier que scrapyd purge).
    "scrapy.extensions.feedexport.FeedExporter": None,
}
