"""Tests unitaires : logique pure, sans sous-processus ni serveur."""
