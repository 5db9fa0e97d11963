"""Commandes Scrapy du projet (remplace crawl pour le code de sortie)."""
