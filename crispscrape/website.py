"""Plusieurs sites Crisp pour un même jeton : ``-a website=ID`` et le verrou d'un site.

Un jeton de plugin sert souvent plusieurs sites (agence, revendeur) ; chaque export peut en
nommer un par ``-a website=ID``, qui l'emporte sur ``ID_SITE_CRISP``. Ses fichiers vont alors
dans ``{CRISP_DATA_DIR}/{website_id}/``, avec l'arborescence habituelle dedans ; un site donné
par l'environnement garde l'arborescence d'avant (directement sous ``CRISP_DATA_DIR``).

L'identifiant devient un nom de répertoire : il est vérifié avant tout appel et tout fichier.
Crisp donne à chaque site un UUID (``8c842203-7ed8-4e29-a608-7cf78a7d2fcc``) ; seule cette
forme passe, ce qui exclut ``..``, ``../x``, les séparateurs et les noms cachés.

Un verrou par site (``flock`` sur le répertoire du site) : deux exports d'un même site ne
tournent jamais ensemble, quelles que soient leurs étapes (un ``account`` dans son étape
messages et un autre qui commencerait par la liste se disputeraient conversations.jsonl) ;
deux sites différents, oui. Les verrous de chaque export (storage/files.py) restent en plus.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import Any

from crispscrape.arguments import ArgumentError
from crispscrape.storage.files import StorageError

# Forme d'un identifiant de site Crisp : un UUID (chiffres hexadécimaux et tirets).
_WEBSITE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EXAMPLE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc"


def parse_website(value: Any, name: str = "website") -> str | None:
    """L'identifiant de site donné en argument, en minuscules ; None s'il est absent.

    ArgumentError (en français) s'il n'a pas la forme d'un identifiant Crisp : il servirait
    de nom de répertoire, rien d'autre qu'un UUID n'est accepté.
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if not _WEBSITE_ID.fullmatch(text):
        raise ArgumentError(
            f"Argument {name}={str(value)[:80]!r} invalide : un identifiant de site Crisp est "
            f"attendu (un UUID, par exemple -a {name}={EXAMPLE}). Il sert de nom de répertoire : "
            "« .. », les barres obliques et tout autre caractère sont refusés. Aucun appel n'a "
            "été fait, aucun fichier n'a été touché.")
    return text


def website_dir(root: Path, website: str | None) -> Path:
    """Répertoire des fichiers d'un site : la racine elle-même sans ``-a website``."""
    if website is None:
        return Path(root)
    # Redit ici (et pas seulement à l'entrée) : aucun chemin ne sort de la racine.
    checked = parse_website(website)
    assert checked is not None
    return Path(root) / checked


def website_line(config) -> str:
    """Ligne d'un récapitulatif (config.CrispConfig) : le site exporté, où sont ses fichiers."""
    origin = "-a website" if config.website_argument else "ID_SITE_CRISP"
    return f"Site Crisp : {config.website_id} ({origin}), fichiers dans {config.data_dir}."


class SiteLocks:
    """Les verrous de site tenus par une exécution : répertoire -> descripteur.

    Un ``account`` lance trois crawls dans le même processus ; chacun redemande le verrou du
    site, qui doit lui être rendu (flock refuserait un second descripteur du même processus).
    La commande crawl en crée UN par exécution et le passe à chaque crawl (context.py) :
    aucun registre au niveau du module. Les verrous tombent avec le processus."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}

    def lock(self, directory: Path, label: str) -> list[Path]:
        """Prend le verrou du site (créant son répertoire s'il manque) pour l'exécution.

        Rend les répertoires créés (du plus haut au plus bas), pour que l'appelant les retire
        s'ils restent vides. StorageError (en français) si un autre processus tient le
        verrou : rien n'a alors été créé ni modifié.
        """
        directory = Path(directory)
        key = os.path.abspath(directory)
        held = self.held.get(key)
        if held is not None and _same_directory(held, directory):
            return []
        created = [parent for parent in reversed([directory, *directory.parents])
                   if not parent.exists()]
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(
                f"Un autre export est déjà en cours pour ce site ({label}) dans {directory} : "
                "attendez sa fin avant de relancer (le direct, « scrapy crawl live », ne finit "
                "jamais seul : arrêtez-le d'abord, Ctrl-C ou cancel.json). Aucun appel n'a été "
                "fait, aucun fichier n'a été modifié.") from None
        if held is not None:
            os.close(held)
        self.held[key] = fd
        return created


def _same_directory(fd: int, directory: Path) -> bool:
    """Vrai si le verrou tenu porte toujours sur ce répertoire (il a pu être retiré, vide)."""
    try:
        held, current = os.fstat(fd), os.stat(directory)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)
