"""Tout ce que crispscrape écrit ou lit sur disque, en un seul paquet.

- ``files.py`` : écriture atomique (temporaire, fsync, os.replace), ajout de lignes,
  temporaires orphelins, petit fichier d'état JSON ; ``paths.py`` : essai d'écriture avant
  tout appel, répertoire d'un magasin tenu (verrou) de l'ouverture à la fermeture ;
- ``jsonl.py`` : LE lecteur de fichiers JSONL, avec sa politique de tolérance explicite ;
- un magasin par export, qui possède ses fichiers ET son état : ``messages.py``,
  ``conversations.py``, ``users.py`` ; ``suppressions.py`` et ``erase.py`` : ce que Crisp
  a supprimé, noté puis effacé de tous les fichiers.
"""

from crispscrape.storage.files import StorageError

__all__ = ["StorageError"]

