"""Fichiers de l'export : écriture atomique, ajout de lignes, noms sûrs, fichiers d'état. Un
fichier de l'utilisateur n'est jamais tronqué ni réécrit à moitié : temporaire du même répertoire,
fsync, puis os.replace ; après un arrêt brutal, l'ancien contenu complet ou le nouveau."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crispscrape.oserrors import os_reason

# Droits des fichiers exportés : ceux du seul propriétaire (voir append_lines).
PRIVATE_FILE = 0o600


class StorageError(Exception):
    """Fichier illisible ou inutilisable : le message (en français) est pour l'utilisateur."""


# Un session_id sert de nom de fichier : seuls ces caractères passent, et jamais en tête un
# point (fichiers cachés, « . », « .. », fichiers temporaires). Tout autre identifiant est
# refusé plutôt que transformé, pour que le nom du fichier reste l'identifiant lui-même.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


def safe_name(identifier: Any) -> str | None:
    return identifier if isinstance(identifier, str) and _SAFE_NAME.fullmatch(identifier) else None


# Un seul encodeur pour toutes les lignes : json.dumps(..., ensure_ascii=False) en crée un
# nouveau à chaque appel (mêmes octets produits, un peu de CPU en moins par message).
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def dumps_line(obj: Any) -> str:
    return _ENCODER.encode(obj) + "\n"


def fsync_directory(directory: Path | str) -> None:
    """Rend durables les créations et renommages faits dans ``directory`` (ou le contenu d'un
    fichier : le même appel sert aux deux)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_lines(path: Path | str, lines: Iterable[str]) -> None:
    """Remplace ``path`` par ces lignes, d'un seul coup. ``path`` peut être une simple chaîne :
    pathlib garde (sys.intern) chaque nom de fichier qu'il découpe, et la mémoire grandirait
    avec le nombre de conversations."""
    _atomic_write(path, lambda handle: handle.writelines(lines), "w")


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    _atomic_write(path, lambda handle: handle.write(data), "wb")


def _atomic_write(path: Path | str, write, mode: str) -> None:
    tmp = write_temporary(path, write, mode, sync=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        discard_temporary(tmp)
        raise
    fsync_directory(os.path.dirname(os.fspath(path)) or ".")


def write_temporary(path: Path | str, write, mode: str = "w", sync: bool = True) -> str:
    """Écrit le futur contenu de ``path`` dans un temporaire du même répertoire et rend son
    chemin ; ``sync=False`` : l'appelant le rendra durable lui-même (storage/grouped.py)."""
    # mkstemp crée le temporaire en 0600 : le fichier remplacé l'est aussi (données privées).
    parent, name = os.path.split(os.fspath(path))
    os.makedirs(parent or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent or ".", prefix=f".{name}.", suffix=".tmp")
    try:
        encoding, newline = (None, None) if "b" in mode else ("utf-8", "\n")
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            write(handle)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
    except BaseException:
        discard_temporary(tmp)
        raise
    return tmp


def discard_temporary(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def atomic_write_json(path: Path, obj: Any, compact: bool = False) -> None:
    """Remplace un petit fichier JSON (état) d'un seul coup. ``compact`` : sans indentation
    (un état réécrit souvent et long d'une entrée par conversation)."""
    text = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) if compact
            else json.dumps(obj, ensure_ascii=False, indent=2))
    atomic_write_lines(path, [text + "\n"])


def append_lines(path: Path, lines: Iterable[str]) -> None:
    """Ajoute des lignes complètes à la fin d'un fichier, puis les synchronise sur disque :
    après un arrêt brutal, seule la dernière peut être incomplète (voir storage/jsonl.py).
    Un fichier qui finit ainsi en pleine ligne reçoit d'abord un saut de ligne : la ligne
    tronquée reste seule (ignorée par les lecteurs), la nouvelle n'y est jamais collée."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Créé en 0600 : les exports contiennent les données personnelles des clients (noms,
    # e-mails, messages). Les fichiers remplacés d'un coup le sont aussi (mkstemp).
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    size = os.fstat(fd).st_size
    cut = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    with os.fdopen(fd, "a", encoding="utf-8", newline="\n") as handle:
        if cut:
            handle.write("\n")
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())


def read_json(path: Path, what: str, parse=json.loads) -> Any | None:
    """Contenu d'un fichier JSON, None s'il n'existe pas ; StorageError s'il est illisible.
    ``parse`` : un autre lecteur qui rend le même contenu (voir paging/done.py)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise StorageError(f"{what} illisible ({path}) : {exc}.") from exc
    except OSError as exc:
        raise StorageError(f"{what} illisible ({path}) : {os_reason(exc)}.") from exc
    try:
        return parse(text)
    except ValueError as exc:
        raise StorageError(f"{what} corrompu ({path}) : {exc}. Il n'a pas été modifié ; corrigez-le, "
                           "ou relancez avec -a reset=1 pour repartir de zéro.") from exc


class StateFile:
    """Un fichier d'état : ``load()`` au départ, ``save()`` (atomique) à chaque étape sûre.
    Illisible, il n'est jamais écrasé en silence (le perdre peut faire croire complet un fichier
    qui ne l'est pas) : arrêt avec un message clair, ``-a reset=1`` pour repartir de zéro."""

    def __init__(self, path: Path, description: str = "Fichier d'état"):
        self.path = Path(path)
        self.description = description
        self.data: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        self.data = self.read()
        return self.data

    def read(self, parse=json.loads) -> dict[str, Any]:
        """L'état du fichier (vide s'il n'existe pas), sans le garder ; ``parse`` : voir read_json."""
        data = read_json(self.path, self.description, parse=parse)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise StorageError(f"{self.description} inattendu ({self.path}) : un objet JSON est attendu. "
                               "Il n'a pas été modifié ; relancez avec -a reset=1 pour repartir de zéro.")
        return data

    def save(self) -> None:
        atomic_write_json(self.path, self.data)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.data = {}


_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp")


def remove_stale_temporaries(directory: Path) -> int:
    """Supprime les temporaires d'écritures atomiques interrompues (arrêt brutal)."""
    if not directory.is_dir():
        return 0
    # os.scandir et non iterdir : un Path par fichier garderait chaque nom en mémoire.
    with os.scandir(directory) as entries:
        stale = [entry.path for entry in entries if _TEMP_NAME.fullmatch(entry.name) and entry.is_file()]
    removed = 0
    for path in stale:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed += 1
    return removed
