"""Tout ce que crispscrape écrit ou lit sur disque : un magasin par export, qui possède ses
fichiers ET son état (voir docs/architecture.md)."""

from crispscrape.storage.files import StorageError

__all__ = ["StorageError"]
