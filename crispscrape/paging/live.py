"""Le direct, sans entrée-sortie : ce que veut dire un événement, quand relire, quoi relire.

Testé seul dans tests/unit/test_live_rules.py. L'araignée ``live`` (spiders/live_apply.py,
spiders/live_refresh.py) en tire ses items et ses requêtes.

- ``meaning`` : un événement -> une ``Change`` (message à écrire, contenu modifié,
  suppression, conversation ou profil à relire), ou None s'il est inutilisable ;
- ``due`` : les conversations calmes depuis ``CRISP_LIVE_SETTLE_MINUTES``, à relire ;
- ``settle_round`` : lesquelles relire maintenant, et s'il faut d'abord une page de liste ;
- ``gap_lookback_days`` : la fenêtre de revérification d'une réconciliation, d'après la
  coupure qui la précède (aucune coupure : aucune revérification).
"""

from __future__ import annotations

from dataclasses import dataclass

# Sortes de changement.
MESSAGE, EDIT, MESSAGE_GONE, CONVERSATION_GONE, CONVERSATION, PROFILE, PROFILE_GONE = (
    "message", "edit", "message_gone", "conversation_gone", "conversation", "profile",
    "profile_gone")

# Marge ajoutée à une coupure pour la fenêtre de revérification (secondes) : les horloges de
# Crisp et la nôtre ne s'accordent pas à la seconde près.
GAP_MARGIN_SECONDS = 300.0
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class Change:
    kind: str
    session_id: str | None = None
    # Message complet (MESSAGE), ou clé et nouveau contenu (EDIT, MESSAGE_GONE).
    message: dict | None = None
    fingerprint: int | None = None
    content: object = None
    people_id: str | None = None


def _session(data: dict) -> str | None:
    session_id = data.get("session_id")
    return session_id if isinstance(session_id, str) and session_id else None


def _fingerprint(data: dict) -> int | None:
    value = data.get("fingerprint")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def meaning(event: str, data: dict) -> Change | None:
    """Ce que l'événement change ; None s'il lui manque de quoi l'appliquer (compté)."""
    session_id = _session(data)
    if event in ("message:send", "message:received"):
        timestamp = data.get("timestamp")
        if session_id is None or _fingerprint(data) is None or not isinstance(timestamp, int):
            return None
        # Le message tel que l'événement le donne (les champs du REST qui lui manquent
        # viendront de la relecture) ; ``inbox_id`` n'est pas un champ du message REST.
        message = {k: v for k, v in data.items() if k != "inbox_id"}
        return Change(MESSAGE, session_id, message=message, fingerprint=_fingerprint(data))
    if event == "message:updated":
        if session_id is None or _fingerprint(data) is None or "content" not in data:
            return None
        return Change(EDIT, session_id, fingerprint=_fingerprint(data), content=data["content"])
    if event == "message:removed":
        if session_id is None or _fingerprint(data) is None:
            return None
        return Change(MESSAGE_GONE, session_id, fingerprint=_fingerprint(data))
    if event == "session:removed":
        return Change(CONVERSATION_GONE, session_id) if session_id else None
    if event.startswith("session:"):
        return Change(CONVERSATION, session_id) if session_id else None
    people_id = data.get("people_id")
    if not isinstance(people_id, str) or not people_id:
        return None
    if event == "people:profile:removed":
        return Change(PROFILE_GONE, people_id=people_id)
    return Change(PROFILE, people_id=people_id)


def edited(line: dict, content: object) -> dict:
    """La ligne du fichier avec son nouveau contenu (le reste viendra de la relecture)."""
    return {**line, "content": content}


def due(unsettled: dict, now: float, settle_seconds: float) -> list[str]:
    """Conversations sans événement depuis ``settle_seconds`` : à relire maintenant."""
    return sorted(session_id for session_id, entry in unsettled.items()
                  if now - float(entry.get("since") or 0) >= settle_seconds)


def settle_round(ready: list[str], unsettled: dict, listed_at: dict[str, float], now: float,
                 swept_at: float, list_seconds: float) -> tuple[set[str], bool]:
    """Le tour de réglage à lancer : (conversations, balayage de liste d'abord ?).

    L'empreinte notée pour une conversation réglée vient de la liste et doit être prise
    après son dernier événement (``listed_at`` : début du dernier balayage qui l'a vue ;
    ``since`` : son dernier événement appliqué). Celles qu'un tel balayage a vues sont
    relues sans page ; pour les autres, un balayage au plus par ``list_seconds`` (la page
    coûte autant que la relecture) : en l'attendant, elles restent à régler."""
    seen = {s for s in ready
            if listed_at.get(s, float("-inf")) > float((unsettled.get(s) or {}).get("since") or 0)}
    if len(seen) < len(ready) and now - swept_at >= list_seconds:
        return set(ready), True
    return seen, False


def startup_gap(saved_at: float | None, connection: dict | None, now: float) -> float | None:
    """La coupure à couvrir au départ (secondes ; None : inconnue, premier départ). Elle court
    depuis le plus ancien de : la dernière écriture de l'état du journal, le début d'une
    coupure de connexion en cours, et le début de ce qu'une réconciliation interrompue
    (arrêt brutal) n'a pas fini de couvrir (``uncovered_since`` ; 0 : inconnu)."""
    connection = connection or {}
    if saved_at is None or connection.get("uncovered_since") == 0:
        return None  # premier départ, ou sa réconciliation interrompue : la fenêtre d'account
    starts = [saved_at, connection.get("uncovered_since"),
              connection.get("since") if connection.get("state") == "down" else None]
    return max(0.0, now - min(float(t) for t in starts if isinstance(t, (int, float))))


def gap_lookback_days(gap_seconds: float | None, default_days: float) -> float:
    """Fenêtre de revérification d'une réconciliation. Sans coupure depuis la dernière, le
    flux a tout dit : aucune (0). Après une coupure de durée connue : la coupure plus une
    marge, jamais plus que celle d'``account``. Coupure de durée inconnue (premier départ) :
    celle d'``account``."""
    if gap_seconds is None:
        return default_days
    if gap_seconds <= 0:
        return 0.0
    return min(default_days, (gap_seconds + GAP_MARGIN_SECONDS) / DAY_SECONDS)
