"""La cause en français d'une erreur système montrée à une personne : un seul endroit.

Sans dépendance dans le projet : le stockage (storage/files.py, storage/paths.py), les
pipelines et les commandes l'importent tous sans créer de cycle.
"""

from __future__ import annotations

import errno

# Cause en français des erreurs système les plus courantes sur disque : ``strerror`` vient
# de la bibliothèque C, en anglais sous la locale C ou POSIX des serveurs et de cron.
_CAUSES = {
    errno.ENOTDIR: "un élément du chemin n'est pas un répertoire",
    errno.EACCES: "permission refusée",
    errno.EPERM: "opération non permise (fichier ou répertoire protégé)",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EDQUOT: "quota de disque dépassé",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.ENOENT: "fichier ou répertoire introuvable",
    errno.EEXIST: "existe déjà",
    errno.EISDIR: "c'est un répertoire, pas un fichier",
    errno.ELOOP: "trop de liens symboliques en chaîne",
    errno.EMFILE: "trop de fichiers ouverts par le programme",
    errno.ENFILE: "trop de fichiers ouverts sur le système",
    errno.EIO: "erreur d'entrée-sortie du disque",
    errno.EFBIG: "fichier trop gros pour le système de fichiers",
    errno.EBUSY: "fichier ou périphérique occupé",
}


def os_reason(exc: BaseException) -> str:
    """LA cause lisible, en français, d'une erreur système (un seul endroit pour tout le
    projet) : d'après ``errno`` ; à défaut, le ``strerror`` du système, ou le texte de
    l'exception (une StorageError y arrive telle quelle)."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code in _CAUSES:
        return _CAUSES[code]
    return getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
