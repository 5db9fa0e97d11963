"""L'échange atomique de deux répertoires, pour mettre ``analyse/parquet/`` en place d'un coup
(build.py) : ``os.replace`` ne remplace pas un répertoire non vide."""

from __future__ import annotations

import errno
import os
from pathlib import Path

# renameat2(2) : échange deux chemins d'un coup (linux/fs.h).
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
# Ce que renvoie un noyau ou un système de fichiers qui ne sait pas échanger : repli.
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP}


def exchange_paths(first: Path | str, second: Path | str) -> bool:
    """Échange atomiquement deux chemins existants (deux répertoires non vides, qu'``os.replace``
    ne sait pas remplacer). Faux si le système ne le permet pas : à l'appelant de se replier.
    Toute autre erreur (chemin absent, droits…) : OSError."""
    import ctypes  # à l'appel seulement : toute commande scrapy importe ce module

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), os.fspath(first), None, os.fspath(second))
