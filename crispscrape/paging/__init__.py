"""Quoi demander ensuite à l'API : les règles de sélection et de pagination, sans écriture.

- ``selection.py`` : quelles conversations l'export des messages demande (nouvelles,
  changées, récentes), d'après conversations.jsonl et l'état des messages ; ``cursor.py`` :
  jusqu'où cet état avance pendant une exécution ; ``done.py`` : ses conversations
  complétées, en mémoire compacte ;
- ``conversations.py`` : la page suivante de la liste des conversations Crisp ;
- ``chat.py`` : la page suivante d'une liste Ninja ou Wanzo ;
- ``users.py`` : les profils que l'export des utilisateurs demande.

La page suivante des messages d'une conversation Crisp : ``spiders/messages.py`` (next_step).
Les fichiers d'état qu'elles lisent vivent dans ``storage/`` (les magasins seuls les écrivent).
"""
