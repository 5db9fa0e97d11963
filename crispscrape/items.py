"""Items produits par les araignées.

Un message reste l'objet exact renvoyé par l'API (``message``) : aucun champ n'est ajouté,
retiré ni renommé. Le marqueur ``ConversationDone`` suit le dernier message d'une
conversation dans le flux des items : le pipeline d'écriture sait alors qu'il peut écrire
le fichier complet (ou partiel, si la pagination a été interrompue).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MessageItem:
    session_id: str
    message: dict


@dataclass
class ConversationDone:
    session_id: str
    # Rang de la conversation dans la sélection du curseur (None : reprise d'une incomplète).
    rank: int | None
    # Vrai si tous les messages, jusqu'au tout premier, sont connus (pagination terminée).
    complete: bool
    # Pourquoi la conversation s'arrête là (pour le journal) : "fin", "à jour", "échec"…
    why: str = field(default="fin")
