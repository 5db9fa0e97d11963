"""Bac à sable local compatible avec l'API REST Crisp v1.

Serveur aiohttp sur la boucle locale, jeu de données déterministe (même graine,
mêmes octets) et pannes configurables, contre lequel tournent les tests et les
bancs d'essai. Lancement : python -m crispsandbox --help.
Vérité de référence en Python : crispsandbox.dataset.Dataset.
"""

from .dataset import Dataset
from .defaults import DEFAULT_IDENTIFIER, DEFAULT_KEY, DEFAULT_WEBSITE_ID

__all__ = ["Dataset", "DEFAULT_IDENTIFIER", "DEFAULT_KEY", "DEFAULT_WEBSITE_ID"]
