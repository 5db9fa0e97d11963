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


def shared_store(crawler, kind: type, factory):
    """Le magasin ``kind`` de ce crawler, créé au premier appel par ``factory(crawler)``.

    Un seul magasin par export et par crawler : le pipeline d'écriture qui le possède
    l'ouvre et le ferme ; l'araignée et le pipeline de déduplication y lisent. Rangé dans le
    crawler, jamais dans une variable globale (plusieurs crawls dans un processus restent
    séparés).
    """
    stores = crawler.__dict__.setdefault("crisp_stores", {})
    if kind not in stores:
        stores[kind] = factory(crawler)
    return stores[kind]
