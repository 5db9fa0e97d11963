"""Moniteurs Spidermon de crispscrape : règles (``rules.py``), suites et résultats en français
(``suites.py``), extension (``extension.py``), bilan du compte entier (``account.py``).
Voir docs/monitors.md.
"""
