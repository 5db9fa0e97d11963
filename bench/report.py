"""Mise en forme du bilan du banc : un tableau en français, chaque chiffre à côté de sa cible."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PASS, FAIL, INFO = "RÉUSSI", "ÉCHEC", "info"


@dataclass
class Row:
    """Une ligne du tableau : mesure, valeur mesurée, cible, verdict."""

    measure: str
    value: str
    target: str = "—"
    verdict: str = INFO


@dataclass
class Section:
    title: str
    rows: list[Row]
    notes: list[str]


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def number(value: float, decimals: int = 0) -> str:
    """Nombre à la française : espace fine insécable pour les milliers, virgule décimale."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def percent(value: float, decimals: int = 1) -> str:
    return f"{number(100 * value, decimals)} %"


def ratio(value: float, decimals: int = 2) -> str:
    return f"{number(value, decimals)}×"


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def markdown(sections: list[Section], header: list[str]) -> str:
    """Le bilan complet en Markdown (lisible tel quel dans un terminal)."""
    lines = list(header)
    for section in sections:
        lines += ["", f"### {section.title}", "",
                  "| Mesure | Valeur | Cible | Verdict |", "|---|---|---|---|"]
        for row in section.rows:
            cells = (row.measure, row.value, row.target, row.verdict)
            lines.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
        if section.notes:
            lines.append("")
            lines += [f"- {note}" for note in section.notes]
    return "\n".join(lines) + "\n"


def is_variant(row: Row) -> bool:
    """Ligne qui mesure une variante (réglages proposés), pas le produit tel quel."""
    return "variante" in row.target


def summary(sections: list[Section], variants: bool = False) -> tuple[int, int]:
    """(cibles réussies, cibles manquées) : produit tel quel, ou variantes seulement."""
    verdicts = [row.verdict for section in sections for row in section.rows
                if is_variant(row) == variants]
    return verdicts.count(PASS), verdicts.count(FAIL)


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def emit(text: str, output: Path | None) -> int:
    """Le bilan sur la sortie standard, et aussi dans ``output`` s'il est donné ; rend 0."""
    print(text)
    if output:
        write(output, text)
    return 0
