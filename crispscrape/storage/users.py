"""Magasin de l'export des utilisateurs : ``utilisateurs/utilisateurs.jsonl`` et son état.

Le fichier : un profil par ligne (l'objet ``data`` renvoyé par l'API), unique par e-mail
sans tenir compte de la casse, trié par e-mail (casefold) à la fin de l'exécution. Les
profils y sont AJOUTÉS au fil de l'eau (ligne complète + fsync) ; le tri final remplace le
fichier d'un coup.

Le script d'origine (users.py) écrivait l'enveloppe entière ``{"error", "reason", "data"}`` :
ces lignes sont comprises telles quelles et normalisées en objets ``data`` à la prochaine
réécriture, sans perdre aucun profil.

L'état (``utilisateurs.jsonl.state.json``) retient les e-mails sans fiche (404), pour ne pas
les redemander à chaque exécution, et les e-mails dont la fiche porte une autre adresse.
Les e-mails ne servent JAMAIS de nom de fichier : ils ne sortent pas de ces deux fichiers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from crispscrape.model import email_key, profile_key, profile_of, unwrap
from crispscrape.storage.files import (
    StorageError,
    append_lines,
    dumps_line,
)
from crispscrape.storage.jsonl import read_lines
from crispscrape.oserrors import os_reason
from crispscrape.storage.paths import StoreDirectory
from crispscrape.storage.files import StateFile
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.keyed import KeyedFile

WHAT = "Fichier des utilisateurs"
FORMAT = 1


class UsersFile(KeyedFile):
    """utilisateurs.jsonl en mémoire (une ligne par e-mail), ses écritures et son état.

    Chargement et tri final : storage/keyed.py ; en double, la ligne la plus basse (ajoutée
    le plus tard) l'emporte."""

    what = WHAT
    stat_prefix = "users"
    missing_key = "sans e-mail exploitable"

    def __init__(self, path: Path, state_path: Path, logger: logging.Logger, stats):
        super().__init__(path, logger, stats)
        self.state = StateFile(state_path, "Fichier d'état des utilisateurs")
        self.entries: dict[str, str] = {}
        self.not_found: set[str] = set()
        # E-mail demandé -> e-mail de la fiche reçue ("" si la fiche n'en porte pas).
        self.aliases: dict[str, str] = {}

    def parse(self, obj):
        profile = profile_of(obj)
        key = profile_key(profile)
        return None if key is None else (key, dumps_line(profile), profile is not obj)

    # --- Chargement ----------------------------------------------------------------------
    def load(self) -> None:
        self._load_state()
        super().load()

    def _load_state(self) -> None:
        data = self.state.load()
        not_found = data.get("not_found", [])
        aliases = data.get("aliases", {})
        if not isinstance(not_found, list) or not all(isinstance(e, str) for e in not_found) \
                or not isinstance(aliases, dict) \
                or not all(isinstance(v, str) for v in aliases.values()):
            raise StorageError(
                f"Fichier d'état des utilisateurs inattendu ({self.state.path}) : « not_found » "
                "doit être une liste d'e-mails et « aliases » un objet. Il n'a pas été modifié ; "
                "corrigez-le, ou relancez avec -a reset=1 pour repartir de zéro."
            )
        self.not_found = {email.casefold() for email in not_found}
        self.aliases = {key.casefold(): value.casefold() for key, value in aliases.items()}

    # --- Consultation ----------------------------------------------------------------------
    def is_present(self, key: str) -> bool:
        return key in self.entries or key in self.aliases

    def is_not_found(self, key: str) -> bool:
        return key in self.not_found

    # --- Écritures ---------------------------------------------------------------------------
    def add(self, profile: dict, requested_key: str) -> bool:
        """Ajoute un profil (append + fsync) ; False s'il était déjà présent sous son e-mail."""
        key = profile_key(profile)
        added = key is None or key not in self.entries
        if added:
            text = dumps_line(profile)
            append_lines(self.path, [text])
            if key is None:
                self.foreign.append(text)
            else:
                self.entries[key] = text
                self.needs_rewrite = True
        if key != requested_key:
            # La fiche porte une autre adresse (ou aucune) : on retient que cette demande est
            # satisfaite, sinon elle serait refaite à chaque exécution. Après l'ajout : un
            # arrêt brutal entre les deux fait redemander la fiche, jamais la perdre.
            self.aliases[requested_key] = key or ""
            self._save_state()
        return added

    def mark_set_aside(self, key: str) -> None:
        """Fiche reçue mais non valide, mise de côté (validation/pipeline.py) : la demande est
        satisfaite sans profil utilisable, comme une fiche sans e-mail."""
        self.aliases[key] = ""
        self._save_state()

    def people_id(self, key: str) -> str | None:
        """Le people_id du profil de cette clé (pour le registre des suppressions)."""
        text = self.entries.get(key)
        value = json.loads(text).get("people_id") if text is not None else None
        return value if isinstance(value, str) else None

    def people_ids(self) -> set[str]:
        """Les people_id des profils du fichier (preuve du site : spiders/removals.py)."""
        return {people_id for key in self.entries
                if (people_id := self.people_id(key)) is not None}

    def remove(self, key: str) -> None:
        """Profil supprimé chez Crisp (CRISP_REMOVED=erase) : sa ligne part à la réécriture
        finale (triée, atomique), et la clé est retenue sans fiche (plus aucun appel)."""
        if self.entries.pop(key, None) is not None:
            self.needs_rewrite = True
        self.mark_not_found(key)

    def mark_not_found(self, key: str) -> None:
        self.not_found.add(key)
        self._save_state()

    def _save_state(self) -> None:
        data = {k: v for k, v in self.state.data.items() if k not in ("not_found", "aliases")}
        data.update({"format": FORMAT, "not_found": sorted(self.not_found),
                     "aliases": dict(sorted(self.aliases.items()))})
        self.state.data = data
        self.state.save()

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.state.delete()


class UsersStore(UsersFile):
    """utilisateurs.jsonl et son état, ouverts par le pipeline des utilisateurs ; le choix des
    e-mails à demander (``plan``) lit conversations.jsonl en flux."""

    def __init__(self, data_dir: Path, stats):
        layout = ExportLayout(Path(data_dir))
        super().__init__(layout.users, layout.users_state,
                         logging.getLogger(__name__), stats)
        self.root = layout.users_dir
        self.conversations_path = layout.listing
        self.dir_lock = StoreDirectory(self.root, "export des utilisateurs", self.logger)
        # Vrai une fois ouvert dans cette exécution (le reste après la fermeture : le
        # récapitulatif le lit à la fin).
        self.opened = False

    def open(self, reset: bool) -> None:
        if not self.conversations_path.is_file():
            raise StorageError(
                f"Fichier des conversations introuvable : {self.conversations_path}. Lancez "
                "d'abord « scrapy crawl conversations ». Aucun fichier n'a été créé."
            )
        self.dir_lock.claim(lambda: self._load(reset), self.path, self.state.path)
        self.opened = True
        self.stats.set_value("users/present_before", len(self))

    def _load(self, reset: bool) -> None:
        if reset:
            # Seulement maintenant : configuration et arguments sont validés.
            self.delete()
            self.logger.info("reset : %s et son état supprimés, export repris de zéro.", self.path)
        self.load()

    def plan(self, recheck: bool = False) -> Iterator[tuple[str, str, bool]]:
        """(e-mail tel qu'écrit, clé casefold, revérification) des personnes à demander, en
        flux : ni déjà présentes (sauf ``recheck`` : -a verify=1 redemande chaque profil du
        fichier, pour voir ceux que Crisp a supprimés), ni déjà connues sans fiche, chacune
        une fois."""
        stats, seen = self.stats, set()
        for line in read_lines(self.conversations_path, "Fichier des conversations"):
            if line.obj is None:
                stats.inc_value("users/unreadable_conversation_lines")
                self.logger.warning("conversations.jsonl, ligne %d illisible : ignorée.",
                                    line.number)
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
                self.logger.warning("conversations.jsonl, ligne %d : « %s » n'est pas une "
                                    "adresse e-mail, ignorée.", line.number, email.strip()[:80])
                continue
            if key in seen:
                continue
            seen.add(key)
            if recheck and key in self.entries:
                stats.inc_value("users/rechecked")
                yield email.strip(), key, True
            elif self.is_present(key):
                stats.inc_value("users/ignored_present")
                self.logger.debug("Déjà présent, ignoré : %s", email.strip())
            elif self.is_not_found(key):
                stats.inc_value("users/ignored_not_found_known")
                self.logger.debug("Sans fiche (déjà connu), ignoré : %s", email.strip())
            else:
                yield email.strip(), key, False

    def close(self) -> None:
        """Tri final par e-mail (même sans aucun appel)."""
        try:
            if self.finish():
                self.logger.info("Fichier %s trié par e-mail (%d profils).", self.path, len(self))
        except OSError as exc:
            self.stats.inc_value("users/final_sort_failed")
            self.logger.error("Tri final de %s impossible : %s. Le fichier est complet mais pas "
                              "trié ; il le sera à la prochaine exécution.", self.path,
                              os_reason(exc))
        self.stats.set_value("users/total", len(self))
        self.dir_lock.release()
