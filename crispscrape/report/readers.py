"""Comment DuckDB lit les fichiers de l'export : la SOURCE (``@SOURCE@``) des INSERT de schema.py.

Fichiers uniques (conversations, profils, index des pièces jointes) : le lecteur JSON de
DuckDB, ``read_ndjson_objects``, qui rend NULL pour une ligne qui n'est pas du JSON.

Fichiers de messages (un par conversation : des milliers de petits fichiers) : chaque fichier
est lu d'un bloc (``read_blob``) puis coupé en lignes. ``read_ndjson_objects`` y coûte cher par
fichier et rend un paquet de lignes par fichier (une vingtaine au lieu de 2 048), que toutes
les étapes suivantes traitent un par un ; mesuré sur 212 000 messages en 11 500 fichiers : la
lecture seule passe de 1,7 s à 0,65 s de CPU, la table entière de 4,1 s à 2,6 s.
``read_blob`` lit ses fichiers sur un seul fil : la liste est donc partagée en autant de
morceaux que DuckDB a de fils, réunis par ``UNION ALL`` (chaque morceau est lu et décodé en
parallèle des autres).

Un fichier de messages qui n'est pas de l'UTF-8 valide devient une seule ligne « ? »
(illisible) : ses messages sont alors relus par le lecteur du projet, comme toute ligne
illisible (build.py). Les lignes vides sont sautées ; une ligne qui n'est pas du JSON arrive
telle quelle et la table la décode en NULL (``TRY``) : une ligne faite seulement d'espaces
(ou d'un ``\r``) fait ainsi relire son fichier par le lecteur du projet, qui la saute.
"""

from __future__ import annotations

from crispscrape.report.schema import INSERTS

READER = "read_ndjson_objects(?, ignore_errors = true, filename = true)"

_MESSAGE_PART = """SELECT json, filename FROM (
    SELECT unnest(string_split(coalesce(TRY(decode(content)), '?'), chr(10))) AS json, filename
    FROM read_blob(${index})) WHERE json <> ''"""


def insert_sql(table: str, parts: int = 1, tolerant: bool = True) -> str:
    """L'INSERT de la table ; pour les messages, une source en ``parts`` morceaux, chacun
    une liste de fichiers passée en paramètre ($1 … $n). ``tolerant=False`` : chaque ligne
    de message décodée sans ``TRY`` (~15 % plus rapide, banc bench.report_db), la requête
    échoue alors entière à la première ligne qui n'est pas du JSON (voir build.py)."""
    sql = INSERTS[table].replace("@DECODE@", "TRY" if tolerant else "")
    if table != "messages":
        return sql.replace("@SOURCE@", READER)
    pieces = " UNION ALL ".join(f"({_MESSAGE_PART.format(index=index)})"
                                for index in range(1, parts + 1))
    return sql.replace("@SOURCE@", f"({pieces})")


def split(files: list[str], parts: int) -> list[list[str]]:
    """Les fichiers en au plus ``parts`` listes non vides, distribués un à un (tailles
    comparables : les fichiers triés par nom sont dans un ordre sans rapport avec leur taille)."""
    parts = max(1, min(parts, len(files)))
    return [files[index::parts] for index in range(parts)]
