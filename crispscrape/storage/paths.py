"""Pré-vol d'un export qui écrit, avant tout appel à l'API (un répertoire en lecture seule
découvert après des centaines d'appels gaspille le quota), par un vrai essai d'écriture
(``os.access`` ment pour root et ne voit ni montage en lecture seule, ni quota) ;
``StoreDirectory`` : le répertoire d'un magasin, vérifié, verrouillé puis rendu."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from crispscrape.oserrors import os_reason
from crispscrape.storage.files import StorageError, remove_stale_temporaries


def check_output(directory: Path, *paths: Path) -> list[Path]:
    """Crée ``directory`` si besoin et vérifie qu'on peut y écrire ``paths`` (chacun absent ou
    un fichier) par un temporaire supprimé aussitôt ; StorageError sinon. Rend les répertoires
    créés : s'ils restent vides (arrêt au premier appel, 401), le magasin les retire en se
    fermant."""
    created = [parent for parent in reversed([directory, *directory.parents]) if not parent.exists()]
    for parent in [directory, *directory.parents]:
        # Un fichier ordinaire à la place d'un répertoire : mkdir donnerait un message obscur.
        if parent.exists() and not parent.is_dir():
            raise StorageError(f"Impossible d'écrire dans {directory} : {parent} existe mais n'est pas un "
                               "répertoire. Rien n'a été modifié ; déplacez ce fichier ou choisissez un autre "
                               "répertoire de données (CRISP_DATA_DIR).")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Impossible de créer le répertoire {directory} : {os_reason(exc)}. Rien n'a été "
                           "modifié ; vérifiez les droits ou choisissez un autre répertoire (CRISP_DATA_DIR).") from exc
    for path in paths:
        if path.exists() and not path.is_file():
            raise StorageError(f"{path} existe mais n'est pas un fichier (c'est un répertoire ?). Rien n'a été "
                               "modifié ; renommez-le ou supprimez-le puis relancez.")
    try:
        # Même forme de nom que les temporaires d'écriture : si un arrêt brutal tombe entre
        # la création et la suppression, l'exécution suivante le reconnaît et l'efface.
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".crispscrape-essai.", suffix=".tmp")
        os.close(fd)
        Path(probe).unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"Le répertoire {directory} n'est pas accessible en écriture : {os_reason(exc)}. "
                           "Rien n'a été modifié ; vérifiez les droits ou l'espace disque.") from exc
    for path in paths:
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise StorageError(f"{path} n'est pas accessible en lecture et écriture. Rien n'a été modifié ; "
                               "vérifiez ses droits.")
    return created


def remove_if_empty(directories: list[Path]) -> None:
    """Retire, du plus bas au plus haut, ceux de ces répertoires qui sont restés vides."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:
            return


class StoreDirectory:
    """Le répertoire d'un magasin, tenu de ``claim`` (ouverture) à ``release`` (fermeture) comme
    scrapy-deltafetch tient sa base. ``claim`` : sortie vérifiée, verrou exclusif (flock sur le
    répertoire même : aucun fichier ajouté, et il tombe avec le processus, même tué), PUIS
    temporaires d'un arrêt brutal retirés : tout autre export exclu, ils sont forcément orphelins."""

    def __init__(self, directory: Path, what: str, logger):
        self.directory = Path(directory)
        self.what = what
        self.logger = logger
        self._fd: int | None = None
        self._created: list[Path] = []

    @property
    def held(self) -> bool:
        return self._fd is not None

    def claim(self, load, *paths: Path) -> None:
        """``paths`` : les fichiers du magasin (chacun absent ou un fichier) ; puis ``load()``
        (le magasin lit ses fichiers), verrou rendu s'il échoue ; StorageError sinon."""
        self._created = check_output(self.directory, *paths)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(f"Un autre {self.what} est déjà en cours dans {self.directory} : "
                               "attendez sa fin avant de relancer. Aucun appel n'a été fait.") from None
        self._fd = fd
        removed = remove_stale_temporaries(self.directory)
        if removed:
            self.logger.info("%d fichier(s) temporaire(s) laissé(s) par un arrêt brutal "
                             "supprimé(s) dans %s.", removed, self.directory)
        try:
            load()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        remove_if_empty(self._created)
        self._created = []
