"""Valeurs par défaut du bac à sable : identifiants fixes et bornes du temps simulé.

Ces constantes sont documentées pour que les tests et les bancs d'essai puissent
s'y fier sans lancer le serveur.
"""

# Identifiants du jeton « plugin » attendus par défaut (jamais de vrais secrets).
DEFAULT_IDENTIFIER = "sandbox-identifier"
DEFAULT_KEY = "sandbox-key"
DEFAULT_WEBSITE_ID = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc"
# Niveaux de jeton Crisp (en-tête X-Crisp-Tier) : « plugin » (jeton de la Marketplace) ou
# « website » (Website Token, généré dans l'application Crisp). Un bac à sable n'en attend qu'un.
TIERS = ("plugin", "website")
DEFAULT_TIER = "plugin"

DEFAULT_HOST = "127.0.0.1"
# Base des URL de fichiers d'un jeu de données hors serveur ; un bac à sable en marche sert
# lui-même ses fichiers et remplace cette base par la sienne (voir media.py).
DEFAULT_MEDIA_BASE = "https://storage.crisp.chat/users/upload"
DEFAULT_PORT = 8787
DEFAULT_SEED = 1
DEFAULT_CONVERSATIONS = 50

# Le temps simulé ne dépend jamais de l'horloge réelle : c'est ce qui rend le jeu
# de données identique octet pour octet d'un lancement à l'autre.
# Toute l'activité générée se termine avant END_MS (2025-06-01T00:00:00Z) ...
END_MS = 1_748_736_000_000
# ... et s'étale sur l'année qui précède.
HISTORY_MS = 365 * 24 * 3600 * 1000
# Les mutations (messages et conversations ajoutés) sont datées après END_MS.
MUTATION_START_MS = END_MS + 60_000

# Taille d'un lot de messages renvoyé par l'API Crisp.
MESSAGES_BATCH = 40
# Bornes de per_page sur la liste des conversations (documentées).
PER_PAGE_MIN = 20
PER_PAGE_MAX = 50
PER_PAGE_DEFAULT = 20
