"""Les systèmes de discussion exportés : ce qui distingue chacun, en un petit adaptateur.

Un système (``Source``) dit comment lire sa configuration, s'authentifier, lire ses réponses,
et — par son ``MessageModel`` — quel champ identifie un message, comment un fichier est trié,
ce qui dit qu'une conversation a changé. Tout le reste est commun : dédoublonnage
(``pipelines/dedup.py``), fusion, tri et écriture (``storage/messages.py``), état
(``storage/cursor.py``, ``paging/selection.py``), ralentissement, budget, récapitulatif et
codes de sortie.

- ``crisp.py`` : Crisp (araignées ``conversations``, ``messages``, ``users``, ``account``) ;
- ``ninja.py`` : la discussion client Django-Ninja (araignée ``ninja``) ;
- ``wanzo.py`` : la discussion du portefeuille Wanzo (araignée ``wanzo``).
"""
