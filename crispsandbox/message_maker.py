"""Messages du bac à sable : types, contenus (fichiers servis par media.py), extrait lisible.

Fonctions pures comme celles de generator.py : le message n° ``position`` d'une conversation
se reconstruit seul, à l'identique, depuis la graine.
"""

from __future__ import annotations

import random

from . import vocab
from .defaults import DEFAULT_MEDIA_BASE
from .seeds import ConversationPlan, fingerprint, rng_for, uuid_from

MESSAGE_TYPES = (
    "text", "note", "file", "animation", "audio", "carousel", "picker", "field", "event",
)
# Poids des types : surtout du texte, mais tous les types apparaissent.
_TYPE_WEIGHTS = (60, 6, 7, 4, 4, 3, 5, 4, 7)

def operator(seed: int, number: int) -> dict:
    """Opérateur n° number de l'équipe de support simulée."""
    nickname, avatar = vocab.OPERATORS[number % len(vocab.OPERATORS)]
    user_id = uuid_from(rng_for(seed, "operator", number))
    return {"type": "website", "user_id": user_id, "nickname": nickname, "avatar": avatar}


def _text(rng: random.Random, pool: tuple[str, ...], nickname: str) -> str:
    return rng.choice(pool).format(n=rng.randrange(1000, 99999), nick=nickname)


def _content(rng: random.Random, kind: str, sender: str, plan: ConversationPlan, media_base: str) -> object:
    """Contenu selon le type : chaîne pour text/note, objet pour les autres ; les fichiers
    pointent vers `media_base` (le bac à sable les sert, voir media.py)."""
    if kind == "text":
        pool = vocab.USER_TEXTS if sender == "user" else vocab.OPERATOR_TEXTS
        return _text(rng, pool, plan.nickname)
    if kind == "note":
        return rng.choice(vocab.NOTE_TEXTS)
    media = f"{media_base}/{uuid_from(rng)}"
    if kind == "file":
        name, mime = rng.choice(vocab.FILE_KINDS)
        return {"name": name, "url": f"{media}/{name}", "type": mime}
    if kind == "animation":
        return {"url": f"{media}/anim.gif", "type": "image/gif"}
    if kind == "audio":
        return {"url": f"{media}/voix.webm", "type": "audio/webm", "duration": rng.randint(1, 120)}
    if kind == "carousel":
        return {
            "text": "Nos offres ✨",
            "targets": [
                {
                    "title": title,
                    "description": f"Offre {title} à {rng.randint(5, 99)} €/mois",
                    "image": f"https://example.com/img/{title.lower()}.png",
                    "actions": [{"label": "Découvrir", "url": f"https://example.com/{title.lower()}"}],
                }
                for title in ("Basique", "Pro", "Équipe")
            ],
        }
    if kind == "picker":
        return {
            "id": f"picker-{rng.randrange(10**6)}",
            "text": "Comment pouvons-nous vous aider ?",
            "choices": [
                {"value": value, "icon": icon, "label": label, "selected": rng.random() < 0.3}
                for value, icon, label in (
                    ("billing", "💳", "Facturation"), ("tech", "🛠️", "Technique"), ("other", "❓", "Autre"),
                )
            ],
            "required": True,
        }
    if kind == "field":
        return {
            "id": "field-email",
            "text": "Quelle est votre adresse e-mail ?",
            "explain": "Saisissez votre e-mail…",
            "value": plan.email or "",
            "required": rng.random() < 0.5,
        }
    namespace, text = rng.choice(vocab.EVENT_NAMESPACES)
    return {"namespace": namespace, "text": text}


def make_message(seed: int, plan: ConversationPlan, website_id: str, position: int, timestamp: int,
                 media_base: str = DEFAULT_MEDIA_BASE) -> dict:
    """Message n° position de la conversation, avec tous les champs Crisp."""
    rng = rng_for(seed, "message", plan.index, position)
    if plan.showcase and position < len(MESSAGE_TYPES):
        kind = MESSAGE_TYPES[position]
    else:
        kind = rng.choices(MESSAGE_TYPES, weights=_TYPE_WEIGHTS)[0]
    if kind in ("note", "carousel", "picker", "field", "event"):
        sender = "operator"
    else:
        sender = rng.choices(("user", "operator"), weights=(6, 4))[0]
    origin = rng.choices(("chat", "email", "urn:crisp.im:whatsapp:0"), weights=(8, 1, 1))[0]
    if sender == "user":
        user = {"type": "participant", "user_id": plan.session_id, "nickname": plan.nickname, "avatar": ""}
    else:
        user = operator(seed, rng.randrange(len(vocab.OPERATORS)))
    content = _content(rng, kind, sender, plan, media_base)
    preview = []
    if isinstance(content, str) and "https://" in content:
        url = content[content.index("https://"):].split()[0]
        preview = [{
            "url": url, "website": "example.com", "title": "Suivi de commande",
            "preview": {"excerpt": "Votre commande est en route 🚚", "image": "", "embed": ""},
            "stamped": True,
        }]
    mentions = [operator(seed, 0)["user_id"]] if kind == "note" and rng.random() < 0.5 else []
    references = []
    if sender == "operator" and rng.random() < 0.1:
        references = [{"type": "url", "name": "Centre d'aide", "target": "https://help.example.com/fr/"}]
    delivered = rng.random() < 0.9
    return {
        "session_id": plan.session_id,
        "website_id": website_id,
        "fingerprint": fingerprint(seed, plan.index, position),
        "timestamp": timestamp,
        "type": kind,
        "from": sender,
        "origin": origin,
        "content": content,
        "user": user,
        "stamped": True,
        "read": origin if delivered and rng.random() < 0.8 else "",
        "delivered": origin if delivered else "",
        "edited": rng.random() < 0.03,
        "translated": rng.random() < 0.02,
        "automated": sender == "operator" and rng.random() < 0.1,
        "mentions": mentions,
        "preview": preview,
        "references": references,
        "original": {"original_id": uuid_from(rng)} if origin == "email" else {},
        "properties": {"ticket": rng.randrange(10**5)} if rng.random() < 0.05 else {},
    }


def excerpt(message: dict) -> str:
    """Extrait lisible d'un message, comme last_message / preview_message.excerpt."""
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, dict):
        text = str(content.get("text") or content.get("name") or content.get("url") or "")
    else:
        text = ""
    return text if len(text) <= 120 else text[:119] + "…"
