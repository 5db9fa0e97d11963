"""Banc d'essai de crispscrape : économie d'appels, vitesse, débit limité, mémoire.

Lancement : ``python -m bench`` (ou ``make bench``) ; ``python -m bench --quick`` pour un
essai rapide. Voir le README (« Banc d'essai ») pour la méthode, les cibles et les résultats.
"""
