"""Chaque chemin d'un export, défini une seule fois : les magasins, ``scrapy status``, le
rapport et le rattrapage des pièces jointes le lisent tous ici. ``root`` : ``CRISP_DATA_DIR``,
ou ``CRISP_DATA_DIR/{site}`` avec ``-a website=ID`` ; noms des scripts d'origine (README.md
« Fichiers produits », docs/oubli.md). Ninja et Wanzo : ``folder`` et ``listing_name``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATE_SUFFIX = ".state.json"
# Lignes illisibles d'un fichier de messages, gardées à côté (storage/messages.py).
UNREADABLE_SUFFIX = ".lignes-illisibles"
# Répertoire des pièces jointes, relatif à {DATA} : l'index les nomme ainsi.
FILES_DIR = "conversations/fichiers"
# La base d'analyse (scrapy report) : {DATA}/analyse/ et ce qu'il contient.
ANALYSIS_DIR = "analyse"
DATABASE_NAME = "crisp.duckdb"
PARQUET_DIR = "parquet"
REPORT_NAME = "rapport.html"


def state_path(path: Path) -> Path:
    return path.with_name(path.name + STATE_SUFFIX)


@dataclass(frozen=True)
class ExportLayout:
    root: Path
    # Dossier et liste du système exporté (Crisp par défaut ; voir crispscrape/sources/).
    folder: str = "conversations"
    listing_name: str = "conversations.jsonl"

    @property
    def listing_dir(self) -> Path:
        return Path(self.root) / self.folder

    @property
    def listing(self) -> Path:
        return self.listing_dir / self.listing_name

    @property
    def listing_state(self) -> Path:
        return state_path(self.listing)

    @property
    def census_log(self) -> Path:
        """Conversations vues par un recensement en cours (paging/conversations.py)."""
        return self.listing_dir / "recensement.jsonl"

    @property
    def messages_dir(self) -> Path:
        return self.listing_dir / "messages"

    @property
    def messages_state(self) -> Path:
        return state_path(self.messages_dir / "messages.jsonl")

    @property
    def files_dir(self) -> Path:
        return Path(self.root) / FILES_DIR

    @property
    def files_index(self) -> Path:
        return Path(self.root) / "conversations" / "fichiers.jsonl"

    @property
    def files_state(self) -> Path:
        return state_path(self.files_index)

    @property
    def users_dir(self) -> Path:
        return Path(self.root) / "utilisateurs"

    @property
    def users(self) -> Path:
        return self.users_dir / "utilisateurs.jsonl"

    @property
    def users_state(self) -> Path:
        return state_path(self.users)

    @property
    def suppressions(self) -> Path:
        """Registre des suppressions (storage/suppressions.py)."""
        return Path(self.root) / "suppressions.jsonl"

    @property
    def journal_dir(self) -> Path:
        """Journal des événements en direct (storage/journal.py, ``scrapy crawl live``)."""
        return Path(self.root) / "evenements"

    @property
    def forgotten(self) -> Path:
        """Ce que ``scrapy forget`` a oublié, en empreintes SHA-256 seulement (jamais la valeur)."""
        return Path(self.root) / "oublis.jsonl"

    @property
    def analysis_dir(self) -> Path:
        return Path(self.root) / ANALYSIS_DIR

    def invalid(self, kind: str) -> Path:
        """Objets mis de côté par la validation : ``kind`` = message, conversation, profile."""
        folder = self.users_dir if kind == "profile" else self.listing_dir
        name = {"message": "messages", "conversation": "conversations", "profile": "utilisateurs"}[kind]
        return folder / f"{name}.invalides.jsonl"
