"""Magasin de l'export des utilisateurs : ``utilisateurs/utilisateurs.jsonl`` et son état
(docs/conversations.md). Les e-mails ne servent JAMAIS de nom de fichier."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from crispscrape.model import profile_key, profile_of
from crispscrape.storage.files import StateFile, StorageError, append_lines, dumps_line
from crispscrape.storage.jsonl import KeyedFile
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.paths import StoreDirectory

FORMAT = 1


class UsersFile(KeyedFile):
    """utilisateurs.jsonl en mémoire (une ligne par e-mail) et son état ; en double, la ligne
    la plus basse (ajoutée le plus tard) l'emporte."""

    what = "Fichier des utilisateurs"
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
            raise StorageError(f"Fichier d'état des utilisateurs inattendu ({self.state.path}) : « not_found » "
                               "doit être une liste d'e-mails et « aliases » un objet. Il n'a pas été modifié ; "
                               "corrigez-le, ou relancez avec -a reset=1 pour repartir de zéro.")
        self.not_found = {email.casefold() for email in not_found}
        self.aliases = {key.casefold(): value.casefold() for key, value in aliases.items()}

    def is_present(self, key: str) -> bool:
        return key in self.entries or key in self.aliases

    def is_not_found(self, key: str) -> bool:
        return key in self.not_found

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

    def refresh(self, profile: dict) -> bool:
        """Le direct : la fiche relue remplace l'ancienne, réécrite d'un coup ; une absente
        n'est pas ajoutée (« users » le fera). Vrai si le fichier a changé."""
        key, text = profile_key(profile), dumps_line(profile)
        if key is None or self.entries.get(key, text) == text:
            return False
        self.entries[key] = text
        self.rewrite()
        return True

    def forget_people(self, people_ids: set[str]) -> None:
        """Effacés du fichier pendant le direct : oubliés en mémoire aussi."""
        for key in [k for k in self.entries if self.people_id(k) in people_ids]:
            del self.entries[key]

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
        return {people_id for key in self.entries if (people_id := self.people_id(key)) is not None}

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
    """utilisateurs.jsonl et son état, ouverts par le pipeline des utilisateurs (les e-mails à
    demander : paging/users.py)."""

    def __init__(self, data_dir: Path, stats):
        layout = ExportLayout(Path(data_dir))
        super().__init__(layout.users, layout.users_state, logging.getLogger(__name__), stats)
        self.root = layout.users_dir
        self.conversations_path = layout.listing
        self.dir_lock = StoreDirectory(self.root, "export des utilisateurs", self.logger)
        # Vrai une fois ouvert (le reste après la fermeture : le récapitulatif le lit).
        self.opened = False

    def open(self, reset: bool) -> None:
        if not self.conversations_path.is_file():
            raise StorageError(f"Fichier des conversations introuvable : {self.conversations_path}. Lancez "
                               "d'abord « scrapy crawl conversations ». Aucun fichier n'a été créé.")
        self.dir_lock.claim(lambda: self._load(reset), self.path, self.state.path)
        self.opened = True
        self.stats.set_value("users/present_before", len(self))

    def _load(self, reset: bool) -> None:
        if reset:
            # Seulement maintenant : configuration et arguments sont validés.
            self.delete()
            self.logger.info("reset : %s et son état supprimés, export repris de zéro.", self.path)
        self.load()

    def close(self) -> None:
        self.finish_at_close("e-mail", "profils")
        self.dir_lock.release()
