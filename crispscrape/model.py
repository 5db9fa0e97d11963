"""Objets de l'API Crisp tels que les fichiers les gardent : conversations, profils, messages.

Petites fonctions pures, sans entrée-sortie, partagées par les araignées, les pipelines et
les magasins (``crispscrape/storage/``) : une seule définition de ce qu'est un session_id
utilisable, une dernière activité, une clé d'e-mail ou l'ordre d'un fichier de messages.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


# --- Conversations -------------------------------------------------------
def unwrap(line_object: Any) -> Any:
    """L'objet conversation d'une ligne : les anciens exports l'enveloppent dans {"data": {...}}."""
    if isinstance(line_object, dict) and "session_id" not in line_object \
            and isinstance(line_object.get("data"), dict):
        return line_object["data"]
    return line_object


def session_id_of(conversation: Any) -> str | None:
    """session_id utilisable (chaîne non vide), sinon None."""
    if not isinstance(conversation, dict):
        return None
    session_id = conversation.get("session_id")
    if isinstance(session_id, str) and session_id.strip():
        return session_id
    return None


def timestamp_of(value: Any) -> int | None:
    # bool est un int en Python : True ne doit pas passer pour un horodatage.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return None


def activity_of(conversation: dict) -> int | None:
    """Dernière activité (ms) : active.last, sinon updated_at, sinon None."""
    active = conversation.get("active")
    last = timestamp_of(active.get("last")) if isinstance(active, dict) else None
    return last if last is not None else timestamp_of(conversation.get("updated_at"))


def conversation_order(session_id: str, activity: int | None) -> tuple[int, str]:
    """Ordre de conversations.jsonl : activité décroissante ; à égalité, session_id croissant
    (ordre stable d'une exécution à l'autre, le même que celui de la liste du bac à sable) ;
    les conversations sans aucune date à la fin."""
    return (-(activity if activity is not None else -1), session_id)


def version_of(conversation: dict) -> tuple[int, int]:
    """Clé de fraîcheur : une conversation plus récente a une clé plus grande."""
    active = conversation.get("active")
    last = timestamp_of(active.get("last")) if isinstance(active, dict) else None
    updated = timestamp_of(conversation.get("updated_at"))
    return (-1 if last is None else last, -1 if updated is None else updated)


# --- Profils ----------------------------------------------------------------------
def email_key(email: Any) -> str | None:
    """Clé de dédoublonnage d'une adresse : casefold, espaces retirés ; None si ce n'en est pas une.

    Une valeur sans « @ » n'est pas une adresse : elle n'est jamais envoyée à l'API (un
    identifiant « . » ou « .. » changerait même de route une fois l'URL normalisée).
    """
    if not isinstance(email, str):
        return None
    email = email.strip()
    if "@" not in email:
        return None
    return email.casefold()


def profile_of(line_object: Any) -> Any:
    """Le profil d'une ligne : l'objet ``data`` d'une enveloppe du script d'origine, sinon la ligne."""
    if isinstance(line_object, dict) and "email" not in line_object \
            and isinstance(line_object.get("data"), dict):
        return line_object["data"]
    return line_object


def profile_key(profile: Any) -> str | None:
    return email_key(profile.get("email")) if isinstance(profile, dict) else None


# --- Personnes (scrapy forget) ------------------------------------------------------------
EMAIL, PEOPLE, SESSION = "email", "people", "session"
KINDS = (EMAIL, PEOPLE, SESSION)


def normalise(kind: str, value: str) -> str:
    """Forme comparée et hachée : sans espaces autour ; un e-mail, en plus, en minuscules."""
    if kind not in KINDS:
        raise ValueError(f"Sorte inconnue : {kind!r} (attendu : {', '.join(KINDS)}).")
    text = value.strip()
    return text.casefold() if kind == EMAIL else text


def _nonblank(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def conversation_keys(conversation: Any) -> list[tuple[str, str]]:
    """(sorte, valeur brute) par lesquelles une conversation désigne une personne."""
    conversation = unwrap(conversation)
    if not isinstance(conversation, dict):
        return []
    meta = conversation.get("meta")
    email = _nonblank(meta.get("email")) if isinstance(meta, dict) else None
    keys = [(SESSION, session_id_of(conversation)), (PEOPLE, _nonblank(conversation.get("people_id"))),
            (EMAIL, email)]
    return [(kind, value) for kind, value in keys if value is not None]


def profile_keys(profile: Any) -> list[tuple[str, str]]:
    """(sorte, valeur brute) d'un profil : son people_id et son e-mail."""
    profile = profile_of(profile)
    if not isinstance(profile, dict):
        return []
    keys = [(PEOPLE, _nonblank(profile.get("people_id"))), (EMAIL, _nonblank(profile.get("email")))]
    return [(kind, value) for kind, value in keys if value is not None]


# --- Messages ---------------------------------------------------------------------------
def message_order(message: dict) -> tuple[int, int]:
    """Ordre des fichiers de messages : du plus récent au plus ancien (trier avec
    ``reverse=True``) par timestamp, puis fingerprint : un ordre total et stable d'une
    exécution à l'autre, quel que soit l'ordre de réception."""
    timestamp = message.get("timestamp")
    fingerprint = message.get("fingerprint")
    return (
        timestamp if isinstance(timestamp, int) else -1,
        fingerprint if isinstance(fingerprint, int) else -1,
    )


def activity_marker(conversation: dict) -> str:
    """Empreinte courte de l'activité d'une conversation telle que la liste la montre :
    ``updated_at``, ``active.last`` et, s'ils sont là, ``preview_message.fingerprint`` et
    ``last_message``. Un nouveau message la change ; une conversation dont l'empreinte n'a
    pas bougé depuis que son fichier a été complété ne coûte aucun appel."""
    active = conversation.get("active")
    preview = conversation.get("preview_message")
    parts = [
        conversation.get("updated_at"),
        active.get("last") if isinstance(active, dict) else None,
        preview.get("fingerprint") if isinstance(preview, dict) else None,
        conversation.get("last_message"),
    ]
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
