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
# Conversations par page de liste : 20 dans la spécification, jusqu'à 50 permis par l'API ;
# 50 fait 2,5 fois moins d'appels de liste (20 reste possible : -s CRISP_CONVERSATIONS_PER_PAGE=20).
CRISP_CONVERSATIONS_PER_PAGE = 50
# Demander aussi les conversations sans message (masquées par défaut par l'API).
CRISP_CONVERSATIONS_INCLUDE_EMPTY = True
# Une ligne de progression (fait/total, débit, fin estimée) au plus toutes les N secondes ;
# 0 = aucune (voir crispscrape/extensions/progress.py).
CRISP_PROGRESS_SECONDS = 5.0
# Budget d'appels d'une exécution (-a budget=N l'emporte) ; 0 = illimité. Recommandé : un
# peu moins que le quota quotidien du jeton (5 000 pour un jeton de plugin).
CRISP_CALL_BUDGET = 0
# Quota quotidien du jeton, pour dire combien de jours il faut encore (état du compte).
CRISP_DAILY_QUOTA = 5000
# Les conversations actives depuis moins de N jours sont redemandées (un appel chacune) à
# chaque exécution : la modification d'un message ne change peut-être pas l'activité que
# montre la liste. 0 = jamais ; -a verify=1 revérifie tout une fois.
CRISP_MESSAGES_LOOKBACK_DAYS = 7.0
# Écriture de l'état des messages au plus une fois par N secondes (0 = après chaque
# conversation) : un arrêt brutal ne fait que redemander les dernières conversations.
CRISP_MESSAGES_STATE_FLUSH = 1.0

# --- Ralentissement sur 429/420, quota 423 (crispscrape/middlewares/throttle.py) ------
# Attente de base du recul exponentiel après un 429/420 sans Retry-After (secondes).
CRISP_THROTTLE_BASE_DELAY = 1.0
# Plafond d'une attente isolée (secondes).
CRISP_THROTTLE_MAX_DELAY = 60.0
# Plafond du temps total passé à attendre à cause du ralentissement, pour tout le crawl
# (secondes) : au-delà, arrêt propre avec finish_reason = "quota".
CRISP_THROTTLE_MAX_TOTAL_WAIT = 1800.0
# Attente de base du recul exponentiel avant de réessayer une erreur 5xx ou réseau.
CRISP_RETRY_BASE_DELAY = 0.5
# Après un 429/420, le délai entre requêtes est multiplié par ce facteur (extension
# CrispAutoThrottle), avec un minimum de CRISP_THROTTLE_MIN_SLOT_DELAY secondes…
CRISP_THROTTLE_DELAY_FACTOR = 1.5
CRISP_THROTTLE_MIN_SLOT_DELAY = 0.02
# … puis relâché de ce facteur à chaque réponse correcte : doucement, pour ne pas
# retomber aussitôt sur la limite (à 0.97, environ un 429 par seconde quel que soit le
# débit permis ; voir le banc d'essai dans le README).
CRISP_THROTTLE_RELAX_FACTOR = 0.995

# --- Comportement Scrapy ------------------------------------------------------------
ROBOTSTXT_OBEY = False  # une API REST n'a pas de robots.txt
COOKIES_ENABLED = False
USER_AGENT = "crispscrape (+https://github.com/crispscrape)"
LOG_LEVEL = "INFO"
# Les erreurs réseau et 5xx sont réessayées par notre middleware (avec recul) ;
# 429 n'y figure plus : il est traité à part, sans limite de tentatives.
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
DOWNLOAD_TIMEOUT = 30
# Chaque réponse de l'API donne UN item (un lot) : traiter les items d'une réponse en
# parallèle n'apporte rien, et Scrapy lancerait CONCURRENT_ITEMS tâches asyncio par réponse
# (100 par défaut : ~15 % du CPU d'un export). La justesse n'en dépend pas : la requête
# suivante d'une conversation attend que son lot soit écrit (voir spiders/messages.py).
CONCURRENT_ITEMS = 1
# Scrapy relit le code source de chaque rappel (ast) pour prévenir d'un « return valeur »
# dans un générateur, à chaque réponse faute de cache efficace sur les méthodes liées.
# Nos rappels n'en ont pas : c'est vérifié une fois pour toutes par tests/unit.
WARN_ON_GENERATOR_RETURN_VALUE = False

# Concurrence : plusieurs conversations en cours à la fois. AutoThrottle vise autant de
# requêtes en vol que CONCURRENT_REQUESTS_PER_DOMAIN (à 8, le débit plafonne vers
# 8 / latence : 5,4× le séquentiel à 100 ms au lieu de 9,2×). AutoThrottle règle ensuite
# l'espacement des requêtes d'après la latence, et notre extension le relâche aussi
# après des réponses 206 (voir crispscrape/extensions/throttle.py).
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.1
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 16.0

DOWNLOADER_MIDDLEWARES = {
    # Remplace le RetryMiddleware de Scrapy par notre sous-classe (même position).
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crispscrape.middlewares.throttle.CrispRetryMiddleware": 550,
    # Budget d'appels : compté juste avant l'envoi, après les attentes de recul.
    "crispscrape.middlewares.budget.CallBudgetMiddleware": 555,
    # Ajoute l'authentification au dernier moment, juste avant l'envoi.
    "crispscrape.middlewares.auth.CrispAuthMiddleware": 560,
}
EXTENSIONS = {
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crispscrape.extensions.throttle.CrispAutoThrottle": 0,
    "crispscrape.extensions.statsfile.StatsFile": 900,
    "crispscrape.extensions.progress.Progress": 800,
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

