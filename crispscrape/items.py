"""Items produits par les araignées : un item par réponse de l'API ; et ce que le magasin des
messages leur rend d'une conversation (``Known``, ``Finished``).

Un message reste l'objet exact renvoyé par l'API : aucun champ n'est ajouté, retiré ni
renommé. Les champs autres que ``messages`` disent aux pipelines ce que la réponse signifie
(fin de la conversation ou non) et leur servent à noter ce qu'ils en ont fait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# ``MessageBatch.end`` d'une conversation supprimée chez Crisp (spiders/removals.py).
REMOVED = "supprimée"
# ``MessageBatch.end`` d'un événement en direct appliqué (spiders/live_apply.py) : le fichier
# change tout de suite, l'état non (la conversation attend sa relecture REST).
LIVE = "direct"


@dataclass
class MessageBatch:
    """Un lot de messages d'une conversation (une réponse), ou sa fin anormale (sans messages).

    ``end`` : None si la pagination continue (``next_before`` dit où), sinon pourquoi la
    conversation s'arrête là. ``complete`` : vrai si tous ses messages, jusqu'au premier,
    sont alors connus.
    """

    session_id: str
    # Rang de la conversation dans la sélection du curseur (None : reprise d'une incomplète).
    rank: int | None
    messages: list[dict] = field(default_factory=list)
    end: str | None = None
    complete: bool = False
    next_before: int | None = None
    # Vrai si la conversation est relue depuis son premier message (systèmes « en avant ») :
    # l'ordre de réception est alors celui de l'API, et les messages déjà connus restent dans
    # le lot pour que l'écriture garde cet ordre (ex aequo de Wanzo).
    full_order: bool = False
    # Fin d'une relecture complète (-a verify=1) ou d'une relecture du direct (dans sa plage) :
    # clés du fichier qu'elle n'a plus revues, supprimées chez Crisp (spiders/messages.py,
    # spiders/live.py) ; retirées du fichier si CRISP_REMOVED=erase.
    removed: list = field(default_factory=list)
    # Rempli par le pipeline de déduplication.
    reached_stored: bool = False
    new: int = 0
    updated: int = 0
    ignored: int = 0

    def __repr__(self) -> str:
        # Scrapy journalise l'item : pas une conversation entière dans le journal.
        return (f"MessageBatch({self.session_id}, {len(self.messages)} messages, "
                f"fin={self.end!r})")


@dataclass
class PageOutcome:
    """Bilan d'une page de la liste des conversations, rempli par le pipeline qui l'enregistre ;
    l'araignée en tire la page suivante (paging/conversations.py)."""

    received: int = 0
    new: int = 0
    updated: int = 0
    present: int = 0
    invalid: int = 0
    # Nouvelles conversations laissées de côté parce que ``nb`` est atteint.
    left_over: int = 0
    newest: int | None = None  # dernière activité la plus récente de la page
    oldest: int | None = None  # et la plus ancienne
    # Vrai si la page n'est pas triée par dernière activité décroissante (l'ordre que le
    # balayage du haut suppose : voir paging/conversations.py).
    out_of_order: bool = False


@dataclass
class ConversationsPage:
    """Une page de la liste des conversations, telle que reçue."""

    page: int
    conversations: list
    # Nombre maximal de nouvelles conversations à garder (reste de ``nb``).
    limit: int
    outcome: PageOutcome | None = None
    # Conversations retirées de la page par la validation (mises de côté) : la page compte
    # quand même comme reçue pleine (voir validation/pipeline.py).
    set_aside: int = 0

    def __repr__(self) -> str:
        return f"ConversationsPage(page={self.page}, {len(self.conversations)} conversations)"


@dataclass
class ProfileItem:
    """Réponse à la demande du profil d'un e-mail : la fiche (``data`` tel quel), ou None
    si l'API n'en a pas (404, retenu pour ne plus la demander)."""

    email: str
    key: str  # e-mail demandé, en casefold
    profile: dict | None
    added: bool | None = None  # rempli par le pipeline
    # Posé par la validation : fiche reçue mais non valide (mise de côté, jamais écrite).
    set_aside: bool = False
    # Revérification (-a verify=1) d'un profil déjà exporté ; ``removed`` : elle a répondu 404,
    # le profil est supprimé chez Crisp (retiré du fichier si CRISP_REMOVED=erase).
    recheck: bool = False
    removed: bool = False
    # Relu par le direct après un événement people:profile:* : la fiche remplace l'ancienne.
    refresh: bool = False

    def __repr__(self) -> str:
        return f"ProfileItem(email={self.email!r}, fiche={'oui' if self.profile else 'non'})"


@dataclass
class ListingPage:
    """Une page de la liste des conversations d'un système « en avant » (Ninja, Wanzo), ou
    la fin du relevé (``final``, sans conversations) qui fait écrire le fichier."""

    conversations: list = field(default_factory=list)
    final: bool = False
    # Rempli par le pipeline : objets utilisables de la page, erreur d'écriture finale.
    usable: list = field(default_factory=list)
    write_error: str | None = None

    def __repr__(self) -> str:
        return f"ListingPage({len(self.conversations)} conversations, fin={self.final})"


@dataclass(frozen=True)
class Known:
    """Vue en lecture seule d'une conversation ouverte (pour l'araignée et le dédoublonnage)."""

    exists: bool
    # Vrai si le fichier est réputé complet : ni noté incomplet, ni abîmé.
    complete_file: bool
    unreadable: bool
    oldest_stored: int | None
    stored: Mapping[Any, dict]
    received: Mapping[Any, dict]


@dataclass
class Finished:
    """Bilan d'une conversation refermée (pour le journal et les statistiques)."""

    session_id: str
    why: str
    complete: bool
    # Faux si aucune réponse exploitable n'était arrivée (rien à écrire, rien à compter).
    opened: bool = True
    new: int = 0
    updated: int = 0
    ignored: int = 0
    # Messages du fichier écrit (None : pas de fichier écrit ni relu).
    total: int | None = None
