"""Outils communs aux tests (lancement de crawls, du bac à sable, de scrapyd ; vérifications)."""
