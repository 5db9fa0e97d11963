"""``scrapy report`` : base d'analyse DuckDB, fichiers Parquet et rapport HTML, d'après les
fichiers de l'export seuls (aucun appel à l'API, aucun identifiant).

- ``sources.py`` : où sont les fichiers de l'export, et l'état de l'export ;
- ``schema.py`` : les tables et les vues (SQL), documentées dans docs/analyse.md ;
- ``build.py`` : construction atomique de ``analyse/crisp.duckdb`` et de ``analyse/parquet/`` ;
- ``figures.py`` : les chiffres du rapport, lus dans la base ;
- ``charts.py`` et ``page.py`` : le rapport ``analyse/rapport.html`` (SVG en ligne, sans JS) ;
- ``failures.py`` : la liste des pièces jointes non obtenues (lue dans l'index, comme
  ``scrapy status``).

DuckDB n'est importé qu'à l'exécution de la commande : les araignées (et scrapyd) n'en ont
pas besoin. Les noms de ``analyse/`` et de ce qu'il contient sont dans storage/layout.py,
avec les autres chemins de l'export.
"""
