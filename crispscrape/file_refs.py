"""Pièces jointes des messages : quelles URL télécharger, et sous quel nom sûr.

Logique pure (aucune entrée-sortie), testée seule dans tests/unit/test_attachments.py. Le
téléchargement lui-même est l'affaire de ``pipelines/attachments.py`` (FilesPipeline de
Scrapy), l'index celle de ``storage/file_index.py``, les octets de ``pipelines/attachment_store.py``.

Types porteurs d'un fichier (voir docs/api-crisp.md) : ``file`` -> ``{name, url, type}``,
``audio`` -> ``{url, type, duration}``, ``animation`` -> ``{url, type}``.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from crispscrape.storage.files import safe_name
# Répertoire des fichiers, relatif au répertoire de l'export (l'index nomme chaque chemin ainsi).
from crispscrape.storage.layout import FILES_DIR

FILE_TYPES = ("file", "audio", "animation")
# Meta d'une requête de pièce jointe : ni l'authentification, ni le budget, ni le
# ralentissement de l'API ne la touchent (middlewares/auth.py, budget.py, ratelimit.py).
FILE_META = "crisp_file"
# Meta : la pièce jointe (FileRef) que la requête télécharge.
REF_META = "crisp_file_ref"
# Slot de téléchargement des pièces jointes : jamais celui de l'API (délai, limiteur).
FILES_SLOT = "crisp-fichiers"
ALLOWED_SCHEMES = ("http", "https")
# Longueur maximale d'un nom gardé, en octets UTF-8 : bien sous la limite de 255 octets des
# systèmes de fichiers, une fois l'empreinte du message placée devant.
MAX_NAME_BYTES = 120
DEFAULT_NAME = "fichier"
# Caractères gardés dans un nom : lettres et chiffres de toute langue, et ces quelques signes.
_UNSAFE = re.compile(r"[^\w.\- '()+,]")


@dataclass(frozen=True)
class FileRef:
    """Une pièce jointe d'un message : la clé (session_id, fingerprint), l'URL, le nom sûr."""

    session_id: str
    fingerprint: int
    url: str
    # Chemin relatif au répertoire des fichiers (conversations/fichiers/).
    relpath: str

    @property
    def key(self) -> tuple[str, int]:
        return self.session_id, self.fingerprint

    @property
    def path(self) -> str:
        """Chemin relatif à CRISP_DATA_DIR, tel que l'index le donne."""
        return f"{FILES_DIR}/{self.relpath}"


def scheme_allowed(url: str) -> bool:
    """Vrai pour http et https seulement : file://, ftp://, data: ne sont jamais demandés."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)


def safe_file_name(name: object) -> str:
    """Un nom de fichier sans danger, tiré du nom donné (dernier segment seulement).

    ``../``, chemin absolu, barre oblique inverse, NUL et caractères de contrôle ne passent
    jamais ; le point de tête est retiré (ni fichier caché, ni « .. ») ; un nom trop long est
    raccourci en gardant son extension. Le résultat n'est jamais vide.
    """
    text = unicodedata.normalize("NFC", name if isinstance(name, str) else "")
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE.sub("_", text).strip(" .")
    if not text:
        return DEFAULT_NAME
    stem, dot, extension = text.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = text, ""
    budget = MAX_NAME_BYTES - (len(extension.encode()) + 1 if extension else 0)
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip(" .") or DEFAULT_NAME
    return f"{stem}.{extension}" if extension else stem


def session_dir(session_id: str) -> str:
    """Sous-répertoire d'une conversation : son session_id s'il est sûr, sinon une empreinte.

    Un session_id hostile (``..``, ``/``, NUL…) ne devient jamais un chemin : il est remplacé
    par ``session-`` suivi des 16 premiers caractères de son SHA-256 (stable d'un lancement à
    l'autre).
    """
    safe = safe_name(session_id)
    if safe is not None and not safe.startswith("-"):
        return safe
    digest = hashlib.sha256(str(session_id).encode("utf-8", "surrogatepass")).hexdigest()
    return f"session-{digest[:16]}"


def name_of(content: dict, url: str) -> str:
    """Nom d'origine : ``name`` pour un ``file``, sinon le dernier segment de l'URL."""
    name = content.get("name")
    if isinstance(name, str) and name:
        return name
    try:
        return unquote(posixpath.basename(urlsplit(url).path))
    except ValueError:
        return ""


def relative_path(session_id: str, fingerprint: int, name: str) -> str:
    """Chemin sous conversations/fichiers/ : {session}/{fingerprint}-{nom sûr}."""
    return f"{session_dir(session_id)}/{fingerprint}-{safe_file_name(name)}"


def file_refs(session_id: str, messages: list) -> list[FileRef]:
    """Les pièces jointes de ces messages (ceux de la conversation ``session_id``).

    La clé est le session_id de la conversation (le nom de son fichier de messages), pas le
    champ du message. Un message sans URL texte est ignoré ; une URL non http(s) est
    gardée ici (l'index la notera refusée, sans aucune requête).
    """
    refs = []
    for message in messages:
        if not isinstance(message, dict) or message.get("type") not in FILE_TYPES:
            continue
        content, fingerprint = message.get("content"), message.get("fingerprint")
        if not isinstance(content, dict) or not isinstance(fingerprint, int):
            continue
        url = content.get("url")
        if not isinstance(url, str) or not url.strip():
            continue
        url = url.strip()
        refs.append(FileRef(session_id, fingerprint, url,
                            relative_path(session_id, fingerprint, name_of(content, url))))
    return refs
