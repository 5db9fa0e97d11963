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
