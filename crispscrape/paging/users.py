"""Quels profils l'export des utilisateurs demande : les e-mails des conversations, lus en flux
dans conversations.jsonl (``meta.email``, ou ``data.meta.email`` des lignes enveloppées)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crispscrape.model import email_key, unwrap
from crispscrape.storage.jsonl import read_lines

if TYPE_CHECKING:
    from crispscrape.storage.users import UsersStore


def plan_profiles(store: UsersStore, recheck: bool = False) -> Iterator[tuple[str, str, bool]]:
    """(e-mail tel qu'écrit, clé casefold, revérification) des personnes à demander : ni déjà
    présentes (sauf ``recheck`` : -a verify=1 redemande chaque profil du fichier, pour voir
    ceux que Crisp a supprimés), ni déjà connues sans fiche, chacune une fois."""
    stats, logger, seen = store.stats, store.logger, set()
    for line in read_lines(store.conversations_path, "Fichier des conversations"):
        if line.obj is None:
            stats.inc_value("users/unreadable_conversation_lines")
            logger.warning("conversations.jsonl, ligne %d illisible : ignorée.", line.number)
            continue
        conversation = unwrap(line.obj)
        meta = conversation.get("meta") if isinstance(conversation, dict) else None
        email = meta.get("email") if isinstance(meta, dict) else None
        if not isinstance(email, str) or not email.strip():
            stats.inc_value("users/conversations_without_email")
            continue
        key = email_key(email)
        if key is None:
            stats.inc_value("users/ignored_invalid_email")
            logger.warning("conversations.jsonl, ligne %d : « %s » n'est pas une adresse e-mail, "
                           "ignorée.", line.number, email.strip()[:80])
            continue
        if key in seen:
            continue
        seen.add(key)
        if recheck and key in store.entries:
            stats.inc_value("users/rechecked")
            yield email.strip(), key, True
        elif store.is_present(key):
            stats.inc_value("users/ignored_present")
            logger.debug("Déjà présent, ignoré : %s", email.strip())
        elif store.is_not_found(key):
            stats.inc_value("users/ignored_not_found_known")
            logger.debug("Sans fiche (déjà connu), ignoré : %s", email.strip())
        else:
            yield email.strip(), key, False
