"""Réglages Scrapy de crispscrape : toutes les valeurs par défaut du projet, en un seul endroit.

Chaque réglage propre au projet (préfixe CRISP_) est documenté ici et dans le README.
Tout réglage se surcharge en ligne de commande : ``scrapy crawl messages -s NOM=valeur``.
"""

BOT_NAME = "crispscrape"
SPIDER_MODULES = ["crispscrape.spiders"]
NEWSPIDER_MODULE = "crispscrape.spiders"
# Notre commande ``crawl`` remplace celle de Scrapy : même usage, mais le code de sortie
# dit si l'export a échoué ou doit être relancé (voir crispscrape/commands/crawl.py).
COMMANDS_MODULE = "crispscrape.commands"

# --- Accès à l'API Crisp -------------------------------------------------------------
# Les identifiants viennent de l'environnement (CRISP_IDENTIFIER_PROD, CRISP_KEY_PROD,
# ID_SITE_CRISP, ou leurs alias CRISP_TOKEN_ID, CRISP_TOKEN_KEY, CRISP_WEBSITE_ID).
# Un réglage du même nom (-s) l'emporte sur l'environnement ; ils ne sont pas définis ici
# pour qu'aucune valeur par défaut ne puisse passer pour un identifiant.
CRISP_API_URL_DEFAULT = "https://api.crisp.chat/v1"
# Racine de toutes les sorties (par défaut : le répertoire courant).
CRISP_DATA_DIR_DEFAULT = "."

# Taille d'un lot de messages renvoyé par l'API (fixée par Crisp).
CRISP_MESSAGES_BATCH_SIZE = 40
# Conversations par page de liste : 20 dans la spécification, jusqu'à 50 permis par l'API
# (50 économise des appels).
CRISP_CONVERSATIONS_PER_PAGE = 20
# Demander aussi les conversations sans message (masquées par défaut par l'API).
CRISP_CONVERSATIONS_INCLUDE_EMPTY = True
# Afficher une ligne de progression toutes les N conversations (ou N profils).
CRISP_PROGRESS_EVERY = 10

# --- Ralentissement sur 429/420, quota 423 (crispscrape/middlewares/ratelimit.py) -----
# Attente de base du recul exponentiel après un 429/420 sans Retry-After (secondes).
CRISP_THROTTLE_BASE_DELAY = 1.0
# Plafond d'une attente isolée (secondes).
CRISP_THROTTLE_MAX_DELAY = 60.0
# Plafond du temps total passé à attendre à cause du ralentissement, pour tout le crawl
# (secondes) : au-delà, arrêt propre avec finish_reason = "quota".
CRISP_THROTTLE_MAX_TOTAL_WAIT = 1800.0
# Attente de base du recul exponentiel avant de réessayer une erreur 5xx ou réseau.
CRISP_RETRY_BASE_DELAY = 0.5
# Débit permis après un 429/420 (limiteur de l'extension CrispAutoThrottle,
# crispscrape/extensions/ratelimiter.py) : un refus divise le débit par ce facteur (par 2 tant
# qu'aucune limite n'est connue), à partir du débit que l'API accepte vraiment, le temps de
# vérifier que les refus cessent…
CRISP_THROTTLE_DELAY_FACTOR = 1.25
# … s'ils cessent, le débit remonte en ce nombre de secondes jusqu'au débit trouvé…
CRISP_THROTTLE_RECOVERY_TIME = 1.0
# … puis le dépasse doucement, de cette part par seconde (0.05 = 5 %/s), pour suivre une
# limite qui monterait. S'ils continuent autant, ils ne venaient pas de notre rythme : le
# débit d'avant est rétabli (voir le banc d'essai dans le README).
CRISP_THROTTLE_PROBE_RATE = 0.05

# --- Comportement Scrapy ------------------------------------------------------------
ROBOTSTXT_OBEY = False  # une API REST n'a pas de robots.txt
COOKIES_ENABLED = False
USER_AGENT = "crispscrape (+https://github.com/crispscrape)"
LOG_LEVEL = "INFO"
# Les erreurs réseau et 5xx sont réessayées par notre middleware (avec recul,
# crispscrape/middlewares/retry.py) ; 429 n'y figure plus : il est traité à part, sans
# limite de tentatives (crispscrape/middlewares/ratelimit.py).
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
DOWNLOAD_TIMEOUT = 30

# Concurrence : plusieurs conversations en cours à la fois. AutoThrottle vise autant de
# requêtes en vol que CONCURRENT_REQUESTS_PER_DOMAIN (à 8, le débit plafonne vers
# 8 / latence : 5,4× le séquentiel à 100 ms au lieu de 9,2×). AutoThrottle règle ensuite
# l'espacement des requêtes d'après la latence, et notre extension le relâche aussi
# après des réponses 206 (voir crispscrape/extensions/autothrottle.py).
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_DELAY = 0
# Pas de gigue sur le délai entre requêtes : le limiteur de débit calcule un débit et en
# déduit le délai. Avec la gigue de Scrapy (±50 %, retirée à chaque réveil du slot),
# l'écart moyen s'allonge d'environ 22 % et le débit obtenu reste sous le débit voulu.
DOWNLOAD_DELAY_JITTER = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.1
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 16.0

DOWNLOADER_MIDDLEWARES = {
    # Remplace le RetryMiddleware de Scrapy par notre sous-classe (même position).
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crispscrape.middlewares.retry.CrispRetryMiddleware": 550,
    # Ralentissement et quota : voit les réponses avant les réessais (priorité plus haute),
    # fait attendre les reculs juste avant l'envoi.
    "crispscrape.middlewares.ratelimit.CrispRateLimitMiddleware": 555,
    # Ajoute l'authentification au dernier moment, juste avant l'envoi.
    "crispscrape.middlewares.auth.CrispAuthMiddleware": 560,
}
EXTENSIONS = {
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crispscrape.extensions.autothrottle.CrispAutoThrottle": 0,
    "crispscrape.extensions.statsfile.StatsFile": 900,
    # Les données vont dans CRISP_DATA_DIR et nulle part ailleurs : scrapyd ajoute FEEDS
    # quand items_dir est défini, et un flux Scrapy (-o) copierait sinon chaque message
    # hors du répertoire de données (et dans un dossier que scrapyd purge).
    "scrapy.extensions.feedexport.FeedExporter": None,
    # Une seule surface de contrôle à distance : JSON-RPC (désactivé par défaut).
    "crispscrape.jsonrpc.webservice.SecureWebService": 500,
}
# Scrapy 2.19 ouvre par défaut un serveur RemoteControl (exécute du Python reçu par HTTP)
# et une console telnet : nous les coupons, JSON-RPC est la seule surface documentée.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

# Fichier JSON où écrire les statistiques finales du crawl (désactivé si vide).
CRISP_STATS_FILE = None

# --- Surveillance JSON-RPC (scrapy-jsonrpc, voir crispscrape/jsonrpc/) ---------------
JSONRPC_ENABLED = False
JSONRPC_HOST = "127.0.0.1"
JSONRPC_PORT = [6080, 7030]
JSONRPC_TOKEN = None

