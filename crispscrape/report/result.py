"""Ce qu'une construction de la base d'analyse rend : chemins, lignes, lignes ignorées, durées."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Skipped:
    """Lignes retirées d'une table : combien, et de quels fichiers."""

    lines: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    database: Path
    parquet: Path
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, Skipped] = field(default_factory=dict)
    # Durée murale de chaque étape (secondes) : « base » (tables, vues, écriture de la base),
    # « parquet » (export des tables), « mise en place » (droits, fsync, remplacement).
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def skipped_lines(self) -> int:
        return sum(item.lines for item in self.skipped.values())

    def skipped_text(self) -> str:
        """Phrase française : lignes ignorées, par table."""
        if not self.skipped_lines:
            return "aucune ligne ignorée"
        parts = []
        for table, item in self.skipped.items():
            if item.lines:
                where = ", ".join(item.files[:3]) + (" …" if len(item.files) > 3 else "")
                parts.append(f"{table} : {item.lines} ({where})")
        return (f"{self.skipped_lines} ligne(s) illisible(s) ou sans identifiant ignorée(s) — "
                + " ; ".join(parts))
