"""Empreintes des conversations complétées (``done`` de l'état des messages), en mémoire compacte.

Une entrée par conversation du compte : {session_id: [empreinte, taille]} (voir
docs/messages.md). Gardée telle que ``json`` la rend (une liste, une chaîne et un entier),
elle coûtait environ 300 octets par conversation, soit 6 Mio pour 20 000, plus autant à chaque
lecture ou écriture complète de l'état. Ici, une entrée ordinaire (empreinte de 16 chiffres
hexadécimaux, taille entière ou None) tient dans UN entier : 64 bits d'empreinte, puis la
taille + 1 (0 : pas de fichier). Toute autre entrée (état écrit à la main, ancienne version)
est gardée telle quelle.

Le fichier garde son format JSON : ``parse_state`` le lit en flux et ``json_chunks`` l'écrit
par morceaux, octet pour octet comme ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

SIZE_BITS = 48
_SIZE_MASK = (1 << SIZE_BITS) - 1
_HEX16 = re.compile(r"[0-9a-f]{16}")
ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# Entrées écrites par morceau : peu d'appels d'écriture, jamais tout l'état en une chaîne.
CHUNK = 512


def pack(marker: Any, size: Any) -> int | None:
    """L'entier d'une entrée ordinaire, ou None si elle ne l'est pas (gardée telle quelle)."""
    if not isinstance(marker, str) or not _HEX16.fullmatch(marker):
        return None
    if size is None:
        low = 0
    elif type(size) is int and 0 <= size < _SIZE_MASK:
        low = size + 1
    else:
        return None
    return (int(marker, 16) << SIZE_BITS) | low


class DoneMarks:
    """{session_id: [empreinte, taille]}, une entrée ordinaire par entier."""

    def __init__(self) -> None:
        self._entries: dict[str, Any] = {}

    @classmethod
    def from_mapping(cls, entries: dict) -> DoneMarks:
        marks = cls()
        for session_id, entry in entries.items():
            marks.put_raw(session_id, entry)
        return marks

    def put_raw(self, session_id: str, entry: Any) -> None:
        """Une entrée telle que lue dans le fichier (liste [empreinte, taille] ou autre)."""
        packed = pack(entry[0], entry[1]) if isinstance(entry, list) and len(entry) == 2 else None
        # Une entrée gardée telle quelle est enveloppée dans un tuple (jamais lu du JSON) :
        # un entier du fichier ne doit pas passer pour une entrée compacte.
        self._entries[session_id] = (entry,) if packed is None else packed

    def set(self, session_id: str, marker: str, size: int | None) -> None:
        self.put_raw(session_id, [marker, size])

    def get(self, session_id: str) -> Any:
        """L'entrée comme dans le fichier ([empreinte, taille]), None si absente."""
        return _entry(self._entries.get(session_id))

    def pop(self, session_id: str) -> Any:
        return _entry(self._entries.pop(session_id, None))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def items(self) -> Iterator[tuple[str, Any]]:
        for session_id, value in self._entries.items():
            yield session_id, _entry(value)

    def json_chunks(self) -> Iterator[str]:
        """L'objet JSON compact, par morceaux de CHUNK entrées."""
        # La fonction en C qu'emploie json pour les chaînes (ensure_ascii=False) : mêmes octets,
        # sans le coût de JSONEncoder.encode par entrée (l'état est réécrit chaque seconde).
        quote, encode = json.encoder.encode_basestring, ENCODER.encode
        parts: list[str] = []
        opened = False
        for session_id, value in self._entries.items():
            if type(value) is int:
                low = value & _SIZE_MASK
                entry = f'["{value >> SIZE_BITS:016x}",{low - 1 if low else "null"}]'
            else:
                entry = encode(value[0])
            parts.append(f"{quote(session_id)}:{entry}")
            if len(parts) >= CHUNK:
                yield ("," if opened else "{") + ",".join(parts)
                opened, parts = True, []
        if parts or not opened:
            yield ("," if opened else "{") + ",".join(parts)
        yield "}"


def _entry(value: Any) -> Any:
    """Valeur gardée -> entrée comme dans le fichier (None si absente)."""
    if type(value) is int:
        low = value & _SIZE_MASK
        return [f"{value >> SIZE_BITS:016x}", low - 1 if low else None]
    return None if value is None else value[0]


# --- Lecture en flux --------------------------------------------------------------------------
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def parse_state(text: str) -> Any:
    """Le contenu d'un fichier d'état, comme ``json.loads``, sauf ``done`` (un objet) rendu en
    DoneMarks sans construire la liste de chaque entrée. ValueError si ce n'est pas du JSON
    (le message de ``json.loads``)."""
    try:
        return _parse_object(text, _skip(text, 0), top=True)
    except (ValueError, IndexError):
        # Cas inattendu (ou JSON invalide) : json.loads tranche, avec son message d'erreur.
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("done"), dict):
            data["done"] = DoneMarks.from_mapping(data["done"])
        return data


def _skip(text: str, pos: int) -> int:
    """Position après les blancs JSON à partir de ``pos``."""
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _parse_object(text: str, pos: int, top: bool) -> Any:
    if text[pos] != "{":
        raise ValueError("pas un objet")
    result: dict[str, Any] = {}
    marks = DoneMarks()
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        if text[pos] != '"':
            raise ValueError("clé attendue")
        key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise ValueError("« : » attendu")
        pos = _skip(text, pos + 1)
        if top and key == "done" and text[pos] == "{":
            value, pos = _parse_object(text, pos, top=False)
        else:
            value, pos = _DECODER.raw_decode(text, pos)
        if top:
            result[key] = value
        else:
            marks.put_raw(key, value)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
            if text[pos] != '"':
                raise ValueError("clé attendue")
        elif text[pos] != "}":
            raise ValueError("« , » ou « } » attendu")
    pos += 1
    if not top:
        return marks, pos
    if _skip(text, pos) != len(text):
        raise ValueError("données après l'objet")
    return result
