"""L'add-on Scrapy de crispscrape : tous les réglages par défaut, et les composants branchés.

Un seul endroit pour les valeurs par défaut, qui marche aussi hors du projet : un projet
Scrapy qui n'active que l'add-on reçoit le comportement de crispscrape, sans recopier nos
réglages ::

    ADDONS = {"crispscrape.addon.CrispAddon": 0}

Pourquoi un add-on : un composant utilisé hors du projet lisait auparavant ses réglages
absents comme 0 (CRISP_THROTTLE_MAX_TOTAL_WAIT = 0.0 : arrêt « quota » au premier 429).
Ici, chaque réglage reçoit sa valeur avec la priorité « addon » : le settings.py du projet,
celui de l'araignée et la ligne de commande (-s) l'emportent toujours.

L'add-on remplace le RetryMiddleware et l'AutoThrottle de Scrapy par les nôtres, ajoute le
ralentissement, l'authentification, le fichier de statistiques et le service JSON-RPC
(chargé seulement s'il est activé). Chaque réglage est documenté dans le README.
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.httpauth import HttpAuthMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.extensions.throttle import AutoThrottle
from scrapy.spidermiddlewares.depth import DepthMiddleware
from scrapy.spidermiddlewares.metacopy import MetaCopyDetectionMiddleware
from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware

from crispscrape.file_refs import FILES_SLOT
from crispscrape.extensions.autothrottle import CrispAutoThrottle
from crispscrape.extensions.jsonrpc import JsonRpcService
from crispscrape.extensions.live_ending import LiveEnding
from crispscrape.extensions.progress import Progress
from crispscrape.extensions.statsfile import StatsFile
from crispscrape.middlewares.auth import CrispAuthMiddleware
from crispscrape.middlewares.budget import CallBudgetMiddleware
from crispscrape.middlewares.ratelimit import CrispRateLimitMiddleware
from crispscrape.middlewares.retry import CrispRetryMiddleware
from crispscrape.monitors.extension import CrispSpidermon
from crispscrape.validation.pipeline import CrispValidationPipeline

DEFAULTS = {
    # --- Accès à l'API Crisp ----------------------------------------------------------
    # Les identifiants viennent de l'environnement (voir crispscrape/config.py) : aucun
    # n'est défini ici, pour qu'aucune valeur par défaut ne puisse passer pour un identifiant.
    "CRISP_API_URL_DEFAULT": "https://api.crisp.chat/v1",
    # Racine de toutes les sorties (par défaut : le répertoire courant).
    "CRISP_DATA_DIR_DEFAULT": ".",
    # Taille d'un lot de messages renvoyé par l'API (fixée par Crisp).
    "CRISP_MESSAGES_BATCH_SIZE": 40,
    # Conversations par page de liste : 20 dans la spécification, jusqu'à 50 permis par
    # l'API ; 50 fait 2,5 fois moins d'appels de liste (-s CRISP_CONVERSATIONS_PER_PAGE=20
    # reste possible).
    "CRISP_CONVERSATIONS_PER_PAGE": 50,
    # Demander aussi les conversations sans message (masquées par défaut par l'API).
    "CRISP_CONVERSATIONS_INCLUDE_EMPTY": True,
    # --- Tenir le compte à jour (crispscrape/paging/selection.py, account.py) ------------
    # Les conversations actives depuis moins de N jours sont redemandées (un appel chacune)
    # à chaque exécution : la modification d'un message ne change peut-être pas l'activité
    # que montre la liste. 0 = jamais ; -a verify=1 revérifie tout une fois.
    "CRISP_MESSAGES_LOOKBACK_DAYS": 7.0,
    # Recensement : la liste entière parcourue tous les N jours (coût : ses pages), pour
    # trouver les conversations supprimées chez Crisp sans nouvelle activité ; 0 = jamais
    # (-a census=1 le force). Voir docs/suppressions.md.
    "CRISP_CENSUS_DAYS": 7.0,
    # CRISP_REMOVED, ce que Crisp a supprimé (404 sur la conversation elle-même, jamais sur
    # une preuve faible) : « erase » (défaut) l'efface de tous les fichiers, « keep » le garde
    # en le notant ; noté dans suppressions.jsonl et plus jamais demandé. Sans défaut ici :
    # lu comme CRISP_TOKEN_TIER (réglage, sinon variable d'environnement ; config.py).
    # Budget d'appels d'une exécution (-a budget=N l'emporte) ; 0 = illimité. Recommandé :
    # un peu moins que le quota quotidien du jeton (5 000 pour un jeton de plugin).
    "CRISP_CALL_BUDGET": 0,
    # Sorte de jeton Crisp (CRISP_TOKEN_TIER : « plugin » ou « website ») et quota quotidien
    # (CRISP_DAILY_QUOTA, qui sert à dire combien de jours il faut encore) : sans défaut ici,
    # lus comme les identifiants (crispscrape/config.py) ; le quota suit la sorte de jeton
    # (5 000 ou 10 000) s'il n'est pas donné.
    # Écriture de l'état des messages au plus une fois par N secondes (0 = après chaque
    # conversation) : un arrêt brutal ne fait que redemander les dernières conversations.
    "CRISP_MESSAGES_STATE_FLUSH": 1.0,
    # Une ligne de progression (fait/total, débit, fin estimée) au plus toutes les N
    # secondes ; 0 = aucune (crispscrape/extensions/progress.py).
    "CRISP_PROGRESS_SECONDS": 5.0,
    # --- Coût CPU (un item par réponse de l'API) ------------------------------------------
    # Chaque réponse donne UN item : les traiter en parallèle n'apporte rien, et Scrapy
    # lancerait CONCURRENT_ITEMS tâches asyncio par réponse (100 par défaut : ~15 % du CPU
    # d'un export). La justesse n'en dépend pas : la requête suivante d'une conversation
    # attend que son lot soit écrit (voir spiders/messages.py ; testé avec 100).
    "CONCURRENT_ITEMS": 1,
    # Scrapy relit le code source de chaque rappel (ast) à chaque réponse pour prévenir d'un
    # « return valeur » dans un générateur ; nos rappels n'en ont pas (tests/unit).
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
    # --- Pièces jointes (crispscrape/pipelines/attachments.py, docs/fichiers.md) ---------
    # Activé par défaut : les URL des fichiers envoyés peuvent expirer (ce qui n'est pas pris
    # tôt peut être perdu), et les télécharger ne coûte aucun appel à l'API ni au quota.
    "CRISP_FILES_ENABLED": True,
    # Taille maximale d'un fichier (octets) : une pièce jointe ordinaire (quelques Mo) passe.
    "CRISP_FILES_MAX_SIZE": 50 * 1024 * 1024,
    # Délai d'un téléchargement (secondes) : un fichier qui met quelques secondes passe.
    "CRISP_FILES_TIMEOUT": 60.0,
    # Tentatives en tout (sur plusieurs exécutions) avant d'abandonner une pièce en échec.
    "CRISP_FILES_MAX_ATTEMPTS": 3,
    # Une URL de stockage signée peut rediriger : on suit (http/https seulement, et
    # RedirectMiddleware retire Authorization vers un autre hôte).
    "MEDIA_ALLOW_REDIRECTS": True,
    # Slot des pièces jointes (meta download_slot) : sans le délai de départ d'AutoThrottle,
    # qui ne le règle pas (meta autothrottle_dont_adjust_delay) ; 8 fichiers à la fois.
    "DOWNLOAD_SLOTS": {FILES_SLOT: {"concurrency": 8, "delay": 0}},
    # Fichier JSON où écrire les statistiques finales du crawl (désactivé si vide).
    "CRISP_STATS_FILE": None,
    # --- Réessais (crispscrape/middlewares/retry.py) -----------------------------------
    # Erreurs réseau et 5xx : RETRY_TIMES réessais, chacun après un recul exponentiel avec
    # gigue (CRISP_RETRY_BASE_DELAY doublé à chaque fois). 429 n'y figure pas : il est
    # traité à part, sans limite de tentatives.
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 4,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
    "CRISP_RETRY_BASE_DELAY": 0.5,
    "DOWNLOAD_TIMEOUT": 30,
    # --- Ralentissement 429/420, quota 423 (crispscrape/middlewares/ratelimit.py) --------
    # Attente de base du recul exponentiel après un 429/420 sans Retry-After (secondes).
    "CRISP_THROTTLE_BASE_DELAY": 1.0,
    # Plafond d'une attente isolée (secondes).
    "CRISP_THROTTLE_MAX_DELAY": 60.0,
    # Plafond du temps total passé à attendre à cause du ralentissement, pour tout le crawl
    # (secondes) : au-delà, arrêt propre avec finish_reason = "quota".
    "CRISP_THROTTLE_MAX_TOTAL_WAIT": 1800.0,
    # --- Débit permis (crispscrape/extensions/ratelimiter.py) ---------------------------
    # Un refus divise le débit par ce facteur (par 2 tant qu'aucune limite n'est connue), à
    # partir du débit que l'API accepte vraiment, le temps de vérifier que les refus cessent…
    "CRISP_THROTTLE_DELAY_FACTOR": 1.25,
    # … s'ils cessent, le débit remonte en ce nombre de secondes jusqu'au débit trouvé…
    "CRISP_THROTTLE_RECOVERY_TIME": 1.0,
    # … puis le dépasse doucement, de cette part par seconde (0.05 = 5 %/s), pour suivre une
    # limite qui monterait. S'ils continuent autant, ils ne venaient pas de notre rythme : le
    # débit d'avant est rétabli (voir le banc d'essai dans le README).
    "CRISP_THROTTLE_PROBE_RATE": 0.05,
    # --- Rythme (crispscrape/extensions/autothrottle.py) --------------------------------
    # Plusieurs conversations en cours à la fois ; AutoThrottle vise autant de requêtes en
    # vol que CONCURRENT_REQUESTS_PER_DOMAIN (à 8, le débit plafonne vers 8 / latence : 5,4×
    # le séquentiel à 100 ms au lieu de 9,2×) et règle l'espacement d'après la latence.
    # Le total en compte deux fois plus : une requête qui attend son recul (429/420,
    # middlewares/ratelimit.py) compte dans le total de Scrapy mais pas dans son slot ; à
    # total égal, 8 % de refus au hasard tenaient une place de vol sur deux en attente et le
    # débit tombait au quart (tests/e2e/test_rate_recovery.py). En vol vers l'API : 16 au plus.
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    # Pas de gigue sur le délai entre requêtes : le limiteur calcule un débit et en déduit le
    # délai. Avec la gigue de Scrapy (±50 %, retirée à chaque réveil du slot), l'écart moyen
    # s'allonge d'environ 22 % et le débit obtenu reste sous le débit voulu.
    "DOWNLOAD_DELAY_JITTER": 0,
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 0.1,
    "AUTOTHROTTLE_MAX_DELAY": 60.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 16.0,
    # --- Une API REST ------------------------------------------------------------------
    "ROBOTSTXT_OBEY": False,  # pas de robots.txt : ce serait un appel perdu sur le quota
    "COOKIES_ENABLED": False,
    # Scrapy 2.19 ouvre par défaut un serveur RemoteControl (exécute du Python reçu par
    # HTTP) et une console telnet : coupés ici (donc aussi hors de ce projet), JSON-RPC est
    # la seule surface documentée.
    "REMOTE_CONTROL_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "USER_AGENT": "crispscrape (+https://github.com/crispscrape)",
    # --- Surveillance JSON-RPC (scrapy-jsonrpc, voir crispscrape/jsonrpc/) --------------
    "JSONRPC_ENABLED": False,
    "JSONRPC_HOST": "127.0.0.1",
    "JSONRPC_PORT": [6080, 7030],
    "JSONRPC_TOKEN": None,
    # --- Surveillance Spidermon (crispscrape/monitors/, docs/monitors.md) ---------------
    "SPIDERMON_ENABLED": True,
    "SPIDERMON_SPIDER_CLOSE_MONITORS": ["crispscrape.monitors.suites.CloseMonitors"],
    # Pendant un long export, toutes les 10 minutes : une alerte avant la fin ({} = aucune).
    "SPIDERMON_PERIODIC_MONITORS": {"crispscrape.monitors.suites.PeriodicMonitors": 600},
    # Fins attendues (moniteur « Fin normale ») : la fin normale et les arrêts prévus
    # (budget, quota, Ctrl-C, JSON-RPC : code 2, reprise au prochain lancement). Un premier
    # export se fait en plusieurs jours : un arrêt par budget n'est pas une panne. Retirer
    # « quota » (par exemple) pour que les actions d'échec (e-mail, Slack) le signalent.
    "SPIDERMON_EXPECTED_FINISH_REASONS": ["finished", "budget", "quota", "shutdown", "cancelled",
                                          "live_stopped"],
    # Seuils : ressources en échec après réessais, objets non valides (au plus N)…
    "CRISP_MONITOR_MAX_FAILED": 0,
    "CRISP_MONITOR_MAX_INVALID": 0,
    # … et part des appels refusés par la limite de débit (429/420) : le limiteur en provoque
    # quelques-uns en cherchant le débit permis ; au-delà de la moitié, c'est une tempête.
    "CRISP_MONITOR_MAX_THROTTLED_SHARE": 0.5,
    # Direct (scrapy crawl live) : le contrôle périodique échoue quand la connexion manque
    # depuis plus de N minutes (nombre décimal ; moniteur « Direct coupé »).
    "CRISP_LIVE_MAX_DOWN_MINUTES": 15.0,
    # Direct : calme (sans événement) avant de relire une conversation touchée par REST, et
    # intervalle des réconciliations sans coupure (docs/direct.md).
    "CRISP_LIVE_SETTLE_MINUTES": 30.0,
    "CRISP_LIVE_RECONCILE_HOURS": 24.0,
    # Direct : au plus un balayage du haut de la liste pour le réglage par période (une
    # conversation calme attend le prochain ; docs/direct.md).
    "CRISP_LIVE_LIST_MINUTES": 60.0,
    # Actions de Spidermon (chemins de classes : e-mail, Slack…), aucune par défaut.
    "CRISP_MONITOR_FAILED_ACTIONS": [],
    "CRISP_MONITOR_FINISHED_ACTIONS": [],
}

# (réglage, composant de Scrapy remplacé ou None, notre composant, priorité)
COMPONENTS = (
    # Même position que le RetryMiddleware de Scrapy.
    ("DOWNLOADER_MIDDLEWARES", RetryMiddleware, CrispRetryMiddleware, 550),
    # Voit les réponses avant les réessais (priorité plus haute) ; fait attendre les reculs
    # juste avant l'envoi.
    ("DOWNLOADER_MIDDLEWARES", None, CrispRateLimitMiddleware, 555),
    # Budget d'appels : compté juste avant l'envoi, après les attentes de recul.
    ("DOWNLOADER_MIDDLEWARES", None, CallBudgetMiddleware, 558),
    # Ajoute l'authentification au dernier moment, juste avant l'envoi.
    ("DOWNLOADER_MIDDLEWARES", None, CrispAuthMiddleware, 560),
    ("EXTENSIONS", AutoThrottle, CrispAutoThrottle, 0),
    # Juste après CoreStats (0) : la fin normale du direct renommée avant les moniteurs.
    ("EXTENSIONS", None, LiveEnding, 1),
    ("EXTENSIONS", None, JsonRpcService, 500),
    ("EXTENSIONS", None, Progress, 800),
    # Après CoreStats (finish_reason), avant StatsFile : le fichier contient leurs résultats.
    ("EXTENSIONS", None, CrispSpidermon, 600),
    # Priorité basse : passe après CoreStats, qui pose finish_reason et finish_time.
    ("EXTENSIONS", None, StatsFile, 900),
    # Avant le dédoublonnage et l'écriture (300, 400) de chaque araignée.
    ("ITEM_PIPELINES", None, CrispValidationPipeline, 100),
)

# Composants de Scrapy faits pour parcourir des pages, sans rôle face à une API JSON : chacun
# voit passer chaque requête ou chaque réponse, pour rien (banc bench.cpu, issue 9). Nos
# araignées ne suivent aucun lien (profondeur, longueur d'URL), l'API ne renvoie pas de
# HTML (meta refresh), l'authentification est la nôtre (HttpAuthMiddleware lirait des
# identifiants dans les attributs de l'araignée). Un projet peut les réactiver.
# RefererMiddleware reste : sans lui, RedirectMiddleware (les 301 de Ninja) écrit un
# avertissement anglais à chaque export.
UNUSED = (
    ("SPIDER_MIDDLEWARES", DepthMiddleware),
    ("SPIDER_MIDDLEWARES", UrlLengthMiddleware),
    ("SPIDER_MIDDLEWARES", MetaCopyDetectionMiddleware),
    ("DOWNLOADER_MIDDLEWARES", HttpAuthMiddleware),
    ("DOWNLOADER_MIDDLEWARES", MetaRefreshMiddleware),
)

# Composants de Scrapy coupés par leur réglage (nos défauts ci-dessus), mais que Scrapy
# importe quand même avant de leur demander s'ils sont actifs : aiohttp pour RemoteControl,
# tldextract et requests pour CookiesMiddleware (~0,15 s de CPU à chaque export, issue 9).
# Tant que leur réglage les laisse coupés, on les retire de la liste de base de Scrapy
# (``*_BASE``, la seule qu'il n'importe pas en entier) ; ``-s COOKIES_ENABLED=True`` ou un
# projet qui les place dans ``EXTENSIONS``/``DOWNLOADER_MIDDLEWARES`` les retrouve.
UNUSED_PATHS = (
    ("EXTENSIONS", "scrapy.extensions.remote_control.RemoteControl", "REMOTE_CONTROL_ENABLED"),
    ("EXTENSIONS", "scrapy.extensions.telnet.TelnetConsole", "TELNETCONSOLE_ENABLED"),
    ("DOWNLOADER_MIDDLEWARES", "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
     "COOKIES_ENABLED"),
)


def _drop_from_base(settings, name: str, path: str, switch: str) -> None:
    """Retire ``path`` de ``{name}_BASE`` si son réglage ``switch`` le laisse coupé."""
    base = settings.getdict(f"{name}_BASE")
    if settings.getbool(switch) or path not in base:
        return
    del base[path]
    settings.set(f"{name}_BASE", base, "addon")


class CrispAddon:
    """Réglages par défaut (priorité « addon ») et composants de crispscrape."""

    def update_settings(self, settings) -> None:
        for name, value in DEFAULTS.items():
            settings.set(name, value, "addon")
        for name, builtin, component, priority in COMPONENTS:
            if builtin is not None:
                # Le composant de Scrapy est dans *_BASE : on le désactive ici, le nôtre
                # prend sa place (sauf si le projet l'a déjà placé lui-même).
                settings.set_in_component_priority_dict(name, builtin, None)
            settings.setdefault_in_component_priority_dict(name, component, priority)
        for name, builtin in UNUSED:
            # Désactivé sauf si le projet l'a placé lui-même (il est dans *_BASE, pas ici).
            settings.setdefault_in_component_priority_dict(name, builtin, None)
        for name, path, switch in UNUSED_PATHS:
            _drop_from_base(settings, name, path, switch)
