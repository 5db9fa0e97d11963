"""Aide aux tests de l'œuf : ce que le produit (crispscrape) ne doit jamais importer.

Le bac à sable (crispsandbox) et son serveur aiohttp sont des outils de développement.
Si un module de crispscrape importait le bac à sable, l'œuf déployé sur scrapyd
dépendrait de ce qu'il n'embarque pas.
"""

from __future__ import annotations

import ast
import re

# Premiers noms de modules interdits dans le produit.
FORBIDDEN = ("crispsandbox", "aiohttp")
# Une chaîne qui a l'allure d'un chemin de module (importlib.import_module, réglages Scrapy).
DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def imported_names(source: str, filename: str = "<source>") -> set[str]:
    """Modules qu'un source Python importe ou désigne par une chaîne.

    Sont relevés « import a.b », « from a.b import c » (imports absolus) et toute chaîne
    en forme de chemin de module, comme celles que reçoivent importlib ou les réglages
    de Scrapy.
    """
    names = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if DOTTED.fullmatch(node.value):
                names.add(node.value)
    return names


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """Les noms relevés par imported_names qui mènent au bac à sable ou à aiohttp."""
    return sorted(name for name in imported_names(source, filename)
                  if name.split(".")[0] in FORBIDDEN)
