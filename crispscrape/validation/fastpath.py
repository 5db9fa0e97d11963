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
    """Fonction vraie seulement pour un objet que ``schema`` accepte sûrement.

    Chaque nœud du schéma devient une seule petite fonction spécialisée (type, puis
    contraintes présentes seulement) : la vérification d'un message est appelée des
    dizaines de milliers de fois par export, une fonction générique qui examine toutes les
    contraintes possibles à chaque nœud en coûtait le double (banc bench.cpu, issue 9).
    """
    if set(schema) - HANDLED:
        return _never
    names = schema.get("type")
    names = [names] if isinstance(names, str) else list(names or [])
    if any(name not in TYPES for name in names):
        return _never
    checks: list[Callable[[Any], bool]] = []
    if names:
        checks.append(_any_of([TYPES[name] for name in names]))
    if "required" in schema or "properties" in schema:
        checks.append(_object_check(tuple(schema.get("required", ())),
                                    tuple((name, compile_check(sub)) for name, sub
                                          in schema.get("properties", {}).items())))
    if "minLength" in schema or "pattern" in schema:
        checks.append(_string_check(schema.get("minLength", 0), schema.get("pattern")))
    if "minimum" in schema:
        checks.append(_minimum_check(schema["minimum"]))
    return _all_of(checks)


def _never(value: Any) -> bool:
    return False


def _always(value: Any) -> bool:
    return True


def _any_of(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(checks) == 1:
        return checks[0]
    return lambda value: any(check(value) for check in checks)


def _all_of(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if not checks:
        return _always
    first, rest = checks[0], _all_of(checks[1:]) if len(checks) > 1 else None
    if rest is None:
        return first
    return lambda value: first(value) and rest(value)


def _object_check(required: tuple[str, ...],
                  children: tuple[tuple[str, Callable[[Any], bool]], ...]) -> Callable[[Any], bool]:
    missing = object()

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            # Un champ exigé ne peut manquer qu'à un objet : autre chose est « à voir ».
            return not required
        for name in required:
            if name not in value:
                return False
        for name, child in children:
            found = value.get(name, missing)
            if found is not missing and not child(found):
                return False
        return True

    return check


def _string_check(min_length: int, pattern: str | None) -> Callable[[Any], bool]:
    compiled = re.compile(pattern) if pattern is not None else None

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        return len(value) >= min_length and (compiled is None or compiled.search(value) is not None)

    return check


def _minimum_check(minimum: float) -> Callable[[Any], bool]:
    return lambda value: not isinstance(value, (int, float)) or value >= minimum
