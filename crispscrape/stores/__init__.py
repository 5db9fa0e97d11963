"""Fichiers de sortie des exports « conversations » et « utilisateurs ».

Un module par export : ``conversations.py`` (conversations.jsonl et son état de
pagination), ``users.py`` (utilisateurs.jsonl et la liste des e-mails sans fiche),
``jsonl.py`` (lecture tolérante commune aux deux : ligne finale tronquée réparée, ligne
illisible au milieu refusée), ``paths.py`` (vérification du répertoire de sortie avant
tout appel à l'API).
"""
