"""Où en est le COMPTE (pas seulement l'exécution), d'après les fichiers seuls.

Lu à la fin de chaque exécution, et par ``scrapy crawl account -a dry_run=1`` / ``scrapy
status`` : aucune requête, aucun identifiant, aucune écriture. Chaque fichier est lu en flux
et tel quel : un fichier absent compte pour vide, une ligne illisible est ignorée.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crispscrape.config import daily_quota
from crispscrape.model import profile_key, profile_of
from crispscrape.storage.file_index import abandoned, read_failures
from crispscrape.paging.done import DoneMarks, parse_state
from crispscrape.storage.files import StorageError
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.suppressions import SuppressionLog
from crispscrape.storage.layout import ExportLayout
from crispscrape.paging.selection import DAY_MS, file_size, listed, mean_batches


def _read_json(path: Path, parse=json.loads) -> dict:
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class AccountStatus:
    data_dir: Path
    listed: int = 0
    history_complete: bool = False
    listing_started: bool = False
    current: int = 0
    never: int = 0
    changed: int = 0
    unverified: int = 0
    incomplete: int = 0
    recent: int = 0
    # Supprimées chez Crisp et gardées ici (CRISP_REMOVED=keep) : hors du compte à faire.
    removed_kept: int = 0
    profiles_known: int = 0
    profiles_not_found: int = 0
    profiles_to_ask: int = 0
    mean_batches: float = 1.0
    # Pièces jointes en échec d'après l'index (conversations/fichiers.jsonl) : retentées au
    # prochain lancement, ou abandonnées (refus définitif, CRISP_FILES_MAX_ATTEMPTS atteint :
    # plus jamais demandées). Une pièce « interrompue » par un arrêt n'est pas un échec.
    files_failed: int = 0
    files_abandoned: int = 0
    # Faux avec -s CRISP_FILES_ENABLED=0 : les échecs ne sont alors pas retentés.
    files_enabled: bool = True
    # Réglages qui ont servi à la lecture et servent au bilan (voir from_settings).
    lookback_days: float = 7.0
    daily_quota: int = 5000
    files_max_attempts: int = 3
    # Âge (jours) de la liste des conversations, posé par un export des messages lancé seul :
    # « complet » ne vaut alors que pour cette liste (voir spiders/messages.py).
    listing_days_old: int = 0

    # --- Lecture ------------------------------------------------------------------------------
    @classmethod
    def read(cls, data_dir: Path, lookback_days: float = 7.0, now_ms: int | None = None,
             profiles: bool = True, messages_state: dict[str, Any] | None = None,
             files_max_attempts: int = 3):
        """Un seul passage sur conversations.jsonl ; ``profiles=False`` : messages seulement
        (le total de la progression d'un export des messages), ni profils ni pièces jointes.
        ``messages_state`` : l'état des messages déjà en mémoire, identique au fichier
        (l'export des messages en cours : le relire en garderait deux copies à la fois)."""
        status = cls(Path(data_dir), lookback_days=lookback_days,
                     files_max_attempts=files_max_attempts)
        status._read_listing()
        emails = status._read_messages(lookback_days, now_ms, sample=profiles,
                                       state=messages_state)
        if profiles:
            status._read_profiles(emails)
            status._read_files()
        return status

    @classmethod
    def from_settings(cls, data_dir: Path, settings, profiles: bool = True,
                      messages_state: dict[str, Any] | None = None) -> AccountStatus:
        """La lecture avec les réglages du projet (fenêtre, quota, pièces jointes) : un seul
        endroit qui les lit."""
        status = cls.read(data_dir, settings.getfloat("CRISP_MESSAGES_LOOKBACK_DAYS", 7.0),
                          profiles=profiles, messages_state=messages_state,
                          files_max_attempts=max(1, settings.getint("CRISP_FILES_MAX_ATTEMPTS",
                                                                     3)))
        status.files_enabled = settings.getbool("CRISP_FILES_ENABLED", True)
        status.daily_quota = daily_quota(settings)
        return status

    @property
    def conversations_path(self) -> Path:
        return ExportLayout(self.data_dir).listing

    def _read_listing(self) -> None:
        state = _read_json(ExportLayout(self.data_dir).listing_state)
        # os.path.isfile, pas Path.is_file : un nom trop long (ENAMETOOLONG), un accès refusé
        # comptent pour « absent » au lieu de lever une exception.
        self.listing_started = bool(state) or os.path.isfile(self.conversations_path)
        self.history_complete = state.get("backfill_complete") is True

    def _read_messages(self, lookback_days: float, now_ms: int | None, sample: bool,
                       state: dict[str, Any] | None = None) -> set[int]:
        layout = ExportLayout(self.data_dir)
        directory = layout.messages_dir
        if state is None:
            # Lu en flux, en mémoire compacte (paging/done.py) : une entrée par conversation.
            state = _read_json(layout.messages_state, parse_state)
        done = state["done"] if isinstance(state.get("done"), DoneMarks) else DoneMarks()
        incomplete: dict = state["incomplete"] if isinstance(state.get("incomplete"), dict) else {}
        emails: set[int] = set()
        if not os.path.isfile(self.conversations_path):
            return emails
        folder = os.fspath(directory)
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        removed = SuppressionLog(layout.suppressions).removed()
        # Une conversation par ligne (le fichier est unique par session_id, et l'export des
        # messages compte les doublons à part) : pas d'ensemble des identifiants en mémoire.
        for conversation in listed(self.conversations_path):
            if sample and conversation.email is not None:
                # Empreintes (entiers) plutôt que les adresses : il ne s'agit que de compter.
                emails.add(hash(conversation.email))
            if conversation.session_id in removed:
                self.removed_kept += 1
                continue
            self.listed += 1
            size = file_size(f"{folder}/{conversation.session_id}.jsonl")
            entry = done.get(conversation.session_id)
            if conversation.session_id in incomplete:
                self.incomplete += 1
            elif not isinstance(entry, list) or len(entry) != 2:
                if size is not None:
                    self.unverified += 1
                else:
                    self.never += 1
            elif entry[0] != conversation.marker or entry[1] != size:
                self.changed += 1
            else:
                self.current += 1
                if lookback_days > 0 and conversation.activity is not None \
                        and conversation.activity >= now - lookback_days * DAY_MS:
                    self.recent += 1
        if sample:
            self.mean_batches = mean_batches(directory)
        return emails

    def _read_profiles(self, emails: set[int]) -> None:
        """Profils connus, sans fiche, et à demander parmi les e-mails des conversations."""
        layout = ExportLayout(self.data_dir)
        state = _read_json(layout.users_state)
        not_found = set(state.get("not_found") or [])
        aliases: dict = state["aliases"] if isinstance(state.get("aliases"), dict) else {}
        known: set[str] = set()
        path = layout.users
        if os.path.isfile(path):
            for line in read_lines(path, "Fichier des utilisateurs"):
                key = profile_key(profile_of(line.obj))
                if key is not None:
                    known.add(key)
        self.profiles_known = len(known)
        self.profiles_not_found = len(not_found)
        answered = {hash(key) for key in (*known, *not_found, *aliases)}
        # Compté sans construire la différence : au bilan de fin d'un grand export, une
        # seconde copie des empreintes (une par conversation) faisait le pic de mémoire.
        self.profiles_to_ask = sum(1 for email in emails if email not in answered)

    def _read_files(self) -> None:
        """Pièces jointes en échec d'après l'index, avec la règle même du téléchargement
        (storage/file_index.abandoned) ; un index illisible compte pour vide."""
        try:
            failures = read_failures(self.data_dir)
        except StorageError:
            return
        self.files_abandoned = sum(1 for entry in failures
                                   if abandoned(entry, self.files_max_attempts))
        self.files_failed = len(failures) - self.files_abandoned

    # --- Bilan ----------------------------------------------------------------------------------
    @property
    def conversations_left(self) -> int:
        return self.never + self.changed + self.unverified + self.incomplete

    @property
    def complete(self) -> bool:
        return (self.listing_started and self.history_complete and self.conversations_left == 0
                and self.profiles_to_ask == 0)

    def calls_needed(self) -> int:
        """Estimation du minimum sans perte de ce qui manque : un lot de 40 par tranche de
        messages (moyenne des fichiers déjà exportés) pour une conversation jamais exportée ou
        incomplète, un appel pour une changée ou à revérifier, un par profil à demander, une
        page de liste (plus le reste de l'historique, inconnu, s'il n'est pas complet)."""
        per_new = max(1, math.ceil(self.mean_batches))
        return (1 + (self.never + self.incomplete) * per_new + self.changed + self.unverified
                + self.profiles_to_ask)

    def lines(self, run_calls: int | None) -> list[str]:
        daily_quota, lookback_days = self.daily_quota, self.lookback_days
        listing = ("historique complet" if self.history_complete
                   else "historique incomplet : le rattrapage continuera" if self.listing_started
                   else "jamais listées : lancez « scrapy crawl account »")
        needed = self.calls_needed()
        days = max(1, math.ceil(needed / daily_quota)) if daily_quota > 0 else 0
        result = [
            f"État du compte (d'après les fichiers de {self.data_dir}) :",
            f"  Conversations listées : {self.listed} ({listing}).",
            f"  Messages : {self.current}/{self.listed} conversations complètes et à jour ; "
            f"jamais exportées : {self.never} ; changées, en attente : {self.changed} ; "
            f"incomplètes : {self.incomplete} ; à revérifier une fois (état ancien) : "
            f"{self.unverified}.",
            f"  Revérifiées à chaque exécution (actives depuis moins de {lookback_days:g} jours, "
            f"CRISP_MESSAGES_LOOKBACK_DAYS) : {self.recent}.",
            *([f"  {self.removed_kept} " + _plural(
                self.removed_kept, "conversation supprimée chez Crisp, gardée ici",
                "conversations supprimées chez Crisp, gardées ici")
               + " (CRISP_REMOVED=keep) : aucun appel."] if self.removed_kept else []),
            f"  Profils : {self.profiles_known} connus, {self.profiles_not_found} sans fiche, "
            f"{self.profiles_to_ask} à demander.",
        ]
        files = self.files_text()
        if files and not self.complete:  # complet : dit dans la dernière ligne
            result.append(f"  {files[0].upper()}{files[1:]}.")
        calls = f"Appels de cette exécution : {run_calls}. " if run_calls is not None else ""
        if self.complete:
            verdict = f"Compte complet, {files}" if files else "Compte complet"
            again = (", et retentera les pièces jointes en échec (aucun appel à l'API)"
                     if self.files_failed and self.files_enabled else "")
            result.append(f"  {calls}{verdict} : la prochaine exécution ne fera que la page "
                          f"1 de la liste et les {self.recent} revérifications{again}.")
        else:
            result.append(f"  {calls}Appels encore nécessaires (estimation) : ~{needed}"
                          + (f", soit {days} jour(s) au quota de {daily_quota} appels/jour "
                             "(CRISP_DAILY_QUOTA)." if days else "."))
        return result

    def files_text(self) -> str:
        """Les pièces jointes en échec, en français (vide s'il n'y en a pas) : « 9 pièces
        jointes en échec (retentées au prochain lancement) », puis les abandonnées."""
        failed, dropped = self.files_failed, self.files_abandoned
        parts = []
        if failed:
            again = (_plural(failed, "retentée", "retentées") + " au prochain lancement"
                     if self.files_enabled else "non retentées : CRISP_FILES_ENABLED=0")
            parts.append(f"{failed} {_plural(failed, 'pièce jointe', 'pièces jointes')} en "
                         f"échec ({again})")
        if dropped:
            what = _plural(dropped, "abandonnée", "abandonnées")
            parts.append(f"{dropped} {what}" if failed else
                         f"{dropped} {_plural(dropped, 'pièce jointe', 'pièces jointes')} {what}")
            parts[-1] += (" (refus définitif ou CRISP_FILES_MAX_ATTEMPTS atteint : plus jamais "
                          "demandées)")
        return ", ".join(parts)

    def verdict(self) -> str:
        """La conclusion, sans point final : « compte complet et à jour », « compte complet, 9
        pièces jointes en échec (retentées au prochain lancement) » ou « il reste … ». Des
        pièces jointes en échec ne changent aucun code de sortie."""
        files = self.files_text()
        if self.complete and self.listing_days_old:
            return (f"compte complet d'après une liste des conversations vieille de "
                    f"{self.listing_days_old} jour(s) : lancez « scrapy crawl account »")
        if self.complete:
            return f"compte complet, {files}" if files else "compte complet et à jour"
        return f"il reste {self.remaining_text()}" + (f" ; {files}" if files else "")

    def remaining_text(self) -> str:
        parts = []
        if self.conversations_left:
            parts.append(f"{self.conversations_left} conversation(s)")
        if self.profiles_to_ask:
            parts.append(f"{self.profiles_to_ask} profil(s)")
        if not self.history_complete:
            parts.append("la suite de la liste des conversations")
        return " et ".join(parts) if parts else "rien"


def _plural(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural
