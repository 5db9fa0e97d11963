"""Arguments ``-a`` des exports : nombres et booléens, donnés en texte comme les passe scrapyd.

Un argument invalide ou inconnu est refusé avant tout appel, par une phrase en français
(``ArgumentError``) qui dit quoi écrire à la place.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from typing import Any

# « Pas de limite » pour nb (le compte entier, les systèmes « en avant ») : jamais affiché
# comme un total (la progression dit alors le fait seul).
UNLIMITED = sys.maxsize
TRUE_WORDS = {"1", "true", "yes", "oui", "on", "vrai"}
FALSE_WORDS = {"0", "false", "no", "non", "off", "faux", ""}


class ArgumentError(ValueError):
    """Argument de ligne de commande invalide (message en français)."""


def parse_count(value: Any, name: str, default: int) -> int:
    """Entier strictement positif, donné en nombre ou en chaîne (scrapyd passe des chaînes)."""
    if value is None:
        return default
    # L'exemple du message : le défaut, sauf « sans limite » (un nombre sans sens pour personne).
    return _positive(value, name, default if default != UNLIMITED else 100)


def parse_optional_count(value: Any, name: str) -> int | None:
    """Comme parse_count, mais None quand l'argument est absent (budget : illimité)."""
    return None if value is None else _positive(value, name, 1000)


def _positive(value: Any, name: str, example: int) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ArgumentError(f"Argument {name}={value!r} invalide : un nombre entier positif "
                            f"est attendu (par exemple -a {name}={example}).")
    return int(text)


def parse_flag(value: Any, name: str) -> bool:
    """Booléen : 1/true/yes/oui ou 0/false/no/non."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ArgumentError(f"Argument {name}={value!r} invalide : 1/true/yes/oui ou 0/false/no/non "
                        "est attendu.")


def unknown_argument(name: str, spider: str, known: Sequence[str]) -> ArgumentError:
    """Argument -a inconnu : refusé, avec le nom voisin s'il y en a un (-a nbr → nb)."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" Vouliez-vous dire {close[0]} ?" if close else ""
    return ArgumentError(f"Argument inconnu : -a {name}=… (arguments de « {spider} » : "
                         f"{', '.join(known)}).{hint}")
