"""Tout ce que crispscrape écrit ou lit sur disque, en un seul paquet.

- ``files.py`` : écriture atomique (temporaire, fsync, os.replace), ajout de lignes, verrou
  et temporaires orphelins ; ``paths.py`` : essai d'écriture avant tout appel ;
- ``jsonl.py`` : LE lecteur de fichiers JSONL, avec sa politique de tolérance explicite ;
- ``state.py`` : un petit fichier d'état JSON réécrit atomiquement ;
- un magasin par export, qui possède ses fichiers ET son état : ``messages.py``,
  ``conversations.py``, ``users.py``.
"""

from crispscrape.storage.files import StorageError

__all__ = ["StorageError"]

