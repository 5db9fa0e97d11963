"""Middlewares de téléchargement : authentification, réessais et ralentissement."""
