"""Remplacements atomiques groupés (la règle de storage/files.py, pour un lot) : temporaires
écrits sans fsync, un seul ``syncfs`` juste avant l'état qui les décrit, puis os.replace. Un
fsync par conversation coûtait ~0,3 ms de CPU (banc bench.cpu, issue 9) ; arrêt brutal :
docs/messages.md."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterable

from crispscrape.storage.files import discard_temporary, fsync_directory, write_temporary


def _load_syncfs():
    # syncfs(2) (Linux) : le système de fichiers d'un descripteur, en une fois. Absent
    # ailleurs : chaque temporaire est alors synchronisé par fsync (même sûreté, sans gain).
    try:
        function = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_SYNCFS = _load_syncfs()


class GroupedReplace:
    """Fichiers d'un même répertoire, remplacés ensemble par ``commit``."""

    def __init__(self, directory: str):
        self.directory = directory
        # Fichier final -> temporaire qui le remplacera (le dernier écrit l'emporte).
        self._staged: dict[str, str] = {}
        self._sizes: dict[str, int] = {}

    def write_lines(self, path: str, lines: Iterable[str]) -> int:
        """Prépare le nouveau contenu de ``path`` ; rend sa taille en octets."""
        tmp = write_temporary(path, lambda handle: handle.writelines(lines), sync=False)
        previous = self._staged.pop(path, None)
        if previous is not None:
            discard_temporary(previous)
        self._staged[path] = tmp
        self._sizes[path] = size = os.stat(tmp).st_size
        return size

    def __len__(self) -> int:
        return len(self._staged)

    def staged(self, path: str) -> bool:
        return path in self._staged

    def size(self, path: str) -> int | None:
        """Taille que ``path`` aura une fois en place (None s'il n'est pas préparé)."""
        return self._sizes.get(path)

    def commit(self) -> bool:
        """Rend durables puis substitue tous les fichiers préparés (à faire AVANT d'écrire
        l'état qui les décrit), répertoire synchronisé ; False s'il n'y avait rien."""
        if not self._staged:
            return False
        self._sync(list(self._staged.values()))
        while self._staged:
            path, tmp = next(iter(self._staged.items()))
            os.replace(tmp, path)
            del self._staged[path], self._sizes[path]
        fsync_directory(self.directory)
        return True

    def discard(self, paths: Iterable[str] | None = None) -> None:
        """Abandonne les fichiers préparés, tous ou ``paths`` (effacés entre-temps) : leurs
        anciens contenus restent en place."""
        for path in list(self._staged) if paths is None else paths:
            self._sizes.pop(path, None)
            if (tmp := self._staged.pop(path, None)) is not None:
                discard_temporary(tmp)

    def _sync(self, temporaries: list[str]) -> None:
        if _SYNCFS is not None:
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                if _SYNCFS(fd) == 0:
                    return
            finally:
                os.close(fd)
        for tmp in temporaries:
            fsync_directory(tmp)  # le contenu d'un fichier : même appel
