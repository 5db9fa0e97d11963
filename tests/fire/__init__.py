"""Suites d'épreuve : arrêts brutaux, pannes, entrées hostiles."""
