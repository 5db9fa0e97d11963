"""Validation des objets reçus de l'API (schémas JSON, validateurs de Spidermon).

Voir ``schemas.py`` (ce que l'exportateur exige d'un message, d'une conversation, d'un
profil) et ``pipeline.py`` (ce qu'il advient d'un objet non valide). docs/monitors.md.
"""
