"""L'oubli à la demande (``scrapy forget``, docs/oubli.md), hors des fichiers eux-mêmes.

``targets.py`` : ce qu'une demande désigne ; ``traces.py`` : la personne retrouvée dans
l'export, et ce qu'elle y laisse hors de ses conversations. Les empreintes notées
(``oublis.jsonl``) et l'effacement des conversations : storage/forgotten.py, storage/erase.py.
"""
