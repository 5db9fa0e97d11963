"""Vérification rapide des objets valides, tirée du schéma JSON lui-même.

jsonschema coûte ~0,2 ms par message (un validateur neuf à chaque propriété) : autant que
tout le reste de l'export d'un lot, qui en devenait deux fois plus lent. Les schémas de
schemas.py n'emploient qu'une poignée de mots-clés ; ``compile_check`` en fait une fonction
qui répond « sûrement valide » ou « à voir ». Elle est au moins aussi stricte que
jsonschema (un entier est un ``int`` Python, jamais 1.0 ni True) : « à voir » passe par le
validateur complet de Spidermon, qui seul décide et nomme les erreurs. Un mot-clé inconnu
ici rend la fonction toujours « à voir » : rien n'est jamais déclaré valide à tort.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
HANDLED = {"$schema", "title", "type", "required", "properties", "minLength", "minimum", "pattern"}


def compile_check(schema: dict) -> Callable[[Any], bool]:
    """Fonction vraie seulement pour un objet que ``schema`` accepte sûrement."""
    if set(schema) - HANDLED:
        return lambda value: False
    names = schema.get("type")
    kinds = [TYPES[n] for n in ([names] if isinstance(names, str) else names or [])
             if n in TYPES]
    if names is not None and len(kinds) != len([names] if isinstance(names, str) else names):
        return lambda value: False
    required = tuple(schema.get("required", ()))
    children = {name: compile_check(sub) for name, sub in schema.get("properties", {}).items()}
    min_length, minimum = schema.get("minLength"), schema.get("minimum")
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None

    def check(value: Any) -> bool:
        if kinds and not any(kind(value) for kind in kinds):
            return False
        if isinstance(value, dict):
            if any(name not in value for name in required):
                return False
            for name, child in children.items():
                if name in value and not child(value[name]):
                    return False
        elif required:
            return False
        if isinstance(value, str):
            if min_length is not None and len(value) < min_length:
                return False
            if pattern is not None and not pattern.search(value):
                return False
        if minimum is not None and isinstance(value, (int, float)) and value < minimum:
            return False
        return True

    return check
