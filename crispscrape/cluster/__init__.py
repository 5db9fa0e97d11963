"""``scrapy cluster`` : déployer l'œuf sur N nœuds scrapyd et y répartir des sites.

- ``nodes.py`` : l'API JSON de scrapyd (daemonstatus, listjobs, addversion, schedule) ;
- ``placement.py`` : qui tourne où, et où placer chaque site (logique pure) ;
- ``egg.py`` : l'œuf du projet, construit hors de l'arbre de travail.
"""
