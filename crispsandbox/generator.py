"""Fabrique déterministe des objets Crisp : personnes, conversations, profils.

Les messages sont dans message_maker.py, les graines, identités et squelettes dans seeds.py.

Chaque objet est tiré d'un générateur pseudo-aléatoire qui lui est propre, graine
dérivée de (graine globale, nature, index). On peut ainsi reconstruire n'importe
quelle conversation ou n'importe quel message isolément, sans générer les autres :
c'est ce qui permet de démarrer vite et de consommer peu de mémoire avec des
milliers de conversations. Toutes les fonctions sont pures.
"""

from __future__ import annotations

import random

from . import vocab
from .defaults import MESSAGES_BATCH
from .message_maker import excerpt, operator
from .seeds import ConversationPlan, Person, rng_for, uuid_from

# Part des messages qui partagent la milliseconde du message précédent.
SAME_MS_RATIO = 0.05


def make_person(seed: int, index: int) -> Person:
    """Personne n° index ; les premières sont les adresses remarquables de vocab."""
    rng = rng_for(seed, "person", index)
    first = rng.choice(vocab.FIRST_NAMES)
    last = rng.choice(vocab.LAST_NAMES)
    people_id = uuid_from(rng)
    if index < len(vocab.SPECIAL_EMAILS):
        email, has_profile = vocab.SPECIAL_EMAILS[index]
        nickname = email.split("@")[0].split("+")[0].replace(".", " ").title()
        return Person(index, email, nickname, people_id, has_profile)
    local = f"{first}.{last}".replace(" ", "").replace("'", "")
    if rng.random() < 0.5:
        local = local.lower()
    if rng.random() < 0.2:
        local += f"+{rng.choice(('crisp', 'support', 'news', 'x1'))}"
    email = f"{local}{index}@{rng.choice(vocab.DOMAINS)}"
    return Person(index, email, f"{first} {last}", people_id, rng.random() < 0.8)


def email_variant(rng: random.Random, email: str) -> str:
    """Variante de casse d'une adresse : la même personne n'écrit pas toujours
    son adresse de la même façon, et la recherche doit l'ignorer."""
    local, _, domain = email.partition("@")
    return rng.choices(
        (email, email.lower(), email.upper(), f"{local.capitalize()}@{domain.upper()}"),
        weights=(6, 2, 1, 1),
    )[0]


def make_plan(
    seed: int,
    index: int,
    *,
    count: int,
    created_at: int,
    last_ts: int,
    trap: bool,
    showcase: bool,
    person: Person | None,
) -> ConversationPlan:
    """Assemble le squelette d'une conversation à partir de ses paramètres."""
    rng = rng_for(seed, "plan", index)
    session_id = f"session_{uuid_from(rng)}"
    if count == 0:
        state = "pending"
    else:
        state = rng.choices(("resolved", "unresolved", "pending"), weights=(6, 3, 1))[0]
    if person is None:
        email, nickname, people_id = None, f"visiteur{rng.randrange(10**6)}", uuid_from(rng)
    else:
        email, nickname, people_id = email_variant(rng, person.email), person.nickname, person.people_id
    return ConversationPlan(
        index=index, session_id=session_id, count=count, created_at=created_at,
        last_ts=last_ts, state=state, trap=trap, showcase=showcase, email=email,
        nickname=nickname, people_id=people_id,
    )


def message_timestamps(seed: int, plan: ConversationPlan) -> list[int]:
    """Horodatages croissants des messages générés d'une conversation.

    Le dernier est toujours unique (c'est l'aperçu de la conversation). Quelques
    messages partagent la milliseconde du précédent ; si plan.trap, un groupe de
    messages partage la milliseconde du plus ancien message de chaque lot complet
    (frontières n-40, n-80, ... en remontant depuis le plus récent) : un client qui
    réutilise naïvement timestamp_before strict en perd quelques-uns.
    """
    count = plan.count
    if count == 0:
        return []
    rng = rng_for(seed, "timestamps", plan.index)
    stamps = sorted(rng.randint(plan.created_at, plan.last_ts - 1) for _ in range(count - 1))
    stamps.append(plan.last_ts)
    for position in range(1, count - 1):
        if rng.random() < SAME_MS_RATIO:
            stamps[position] = stamps[position - 1]
    if plan.trap:
        for boundary in range(count - MESSAGES_BATCH, 0, -MESSAGES_BATCH):
            # Groupe [boundary-2, boundary+1] : déborde des deux côtés de la frontière,
            # quel que soit le décalage d'un lot (oldest ou oldest+1).
            low, high = max(0, boundary - 2), min(boundary + 1, count - 2)
            for position in range(low, high):
                stamps[position] = stamps[high]
    return stamps


def make_conversation(
    seed: int, plan: ConversationPlan, website_id: str, newest: dict | None, last_activity: int,
) -> dict:
    """Objet conversation complet ; `newest` est le message le plus récent (None si
    vide) et `last_activity` la dernière activité, reprise dans active.last et updated_at."""
    rng = rng_for(seed, "conversation", plan.index)
    country, region, city, latitude, longitude = rng.choice(vocab.CITIES)
    browser, version, engine, os_name, os_version = rng.choice(vocab.BROWSERS)
    status = {"pending": 0, "unresolved": 1, "resolved": 2}[plan.state]
    assigned = operator(seed, rng.randrange(len(vocab.OPERATORS)))["user_id"] if rng.random() < 0.6 else None
    meta = {"nickname": plan.nickname}
    if plan.email is not None:
        meta["email"] = plan.email
    meta.update({
        "phone": f"+33 6 {rng.randrange(10**8):08d}" if rng.random() < 0.4 else "",
        "address": "",
        "subject": rng.choice(vocab.SUBJECTS) if rng.random() < 0.5 else "",
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "avatar": "",
        "data": {"plan": rng.choice(("gratuit", "pro", "équipe")), "customer_id": rng.randrange(10**6)},
        "connection": {"isp": rng.choice(("Orange", "Free SAS", "Deutsche Telekom")), "asn": f"AS{rng.randrange(1000, 65000)}"},
        "device": {
            "capabilities": ["browsing", "call"] if rng.random() < 0.5 else [],
            "geolocation": {
                "country": country, "region": region, "city": city,
                "coordinates": {"latitude": latitude, "longitude": longitude},
            },
            "system": {
                "os": {"version": os_version, "name": os_name},
                "engine": {"name": engine, "version": version},
                "browser": {"major": version.split(".")[0], "version": version, "name": browser},
                "useragent": f"Mozilla/5.0 ({os_name} {os_version}) {browser}/{version}",
            },
            "timezone": rng.choice((-120, -60, 0, 300, -540)),
            "locales": rng.choice((["fr"], ["fr", "en"], ["de"], ["ja"])),
        },
        "segments": sorted(rng.sample(vocab.SEGMENTS, rng.randint(0, 2))),
        "origin": rng.choices(("chat", "email", "urn:crisp.im:whatsapp:0"), weights=(8, 1, 1))[0],
    })
    conversation = {
        "session_id": plan.session_id,
        "website_id": website_id,
        "inbox_id": None,
        "people_id": plan.people_id,
        "state": plan.state,
        "status": status,
        "is_verified": plan.email is not None and rng.random() < 0.5,
        "is_blocked": rng.random() < 0.02,
        "availability": rng.choice(("offline", "online", "away")),
        "active": {"now": False, "last": last_activity},
        "last_message": excerpt(newest) if newest else "",
    }
    if newest is not None:
        conversation["preview_message"] = {
            "type": newest["type"], "from": newest["from"],
            "excerpt": excerpt(newest), "fingerprint": newest["fingerprint"],
        }
    conversation.update({
        "topic": "",
        "participants": [{"type": "email", "target": plan.email}] if plan.email and rng.random() < 0.3 else [],
        "mentions": [],
        "compose": {},
        "unread": {"operator": rng.randint(0, 3) if plan.state == "unresolved" else 0, "visitor": rng.randint(0, 1)},
        "assigned": {"user_id": assigned} if assigned else {},
        "meta": meta,
        "created_at": plan.created_at,
        "updated_at": last_activity,
        "waiting_since": last_activity if plan.state == "unresolved" else 0,
        "verifications": [{"identity": "email", "method": "link", "annotation": ""}] if plan.email and rng.random() < 0.3 else [],
    })
    return conversation


def make_profile(seed: int, person: Person, website_created_ms: int) -> dict:
    """Fiche « people » d'une personne (champs documentés de l'API)."""
    rng = rng_for(seed, "profile", person.index)
    country, region, city, latitude, longitude = rng.choice(vocab.CITIES)
    created_at = website_created_ms + rng.randrange(30 * 24 * 3600 * 1000)
    updated_at = created_at + rng.randrange(300 * 24 * 3600 * 1000)
    return {
        "people_id": person.people_id,
        "email": person.email,
        "person": {
            "nickname": person.nickname,
            "avatar": "",
            "gender": rng.choice(("female", "male", None)),
            "phone": f"+33 7 {rng.randrange(10**8):08d}" if rng.random() < 0.3 else "",
            "address": f"{rng.randint(1, 120)} rue de la Paix, {city}" if rng.random() < 0.3 else "",
            "website": "",
            "timezone": rng.choice((-120, -60, 0, 300)),
            "locales": rng.choice((["fr"], ["fr", "en"], ["de"])),
            "profiles": [{"type": "linkedin", "handle": f"in-{person.index}", "url": f"https://linkedin.example/in-{person.index}"}]
            if rng.random() < 0.2 else [],
            "employment": {"name": rng.choice(("Acme", "Société Générale de Tests", "株式会社テスト")), "title": "", "role": ""},
            "geolocation": {
                "country": country, "region": region, "city": city,
                "coordinates": {"latitude": latitude, "longitude": longitude},
            },
        },
        "company": {"name": rng.choice(("Acme", "Bäckerei Müller", "")), "url": "", "domain": ""},
        "segments": sorted(rng.sample(vocab.SEGMENTS, rng.randint(0, 3))),
        "notepad": rng.choice(("", "Préfère être contacté(e) par e-mail ✉️")),
        "score": rng.randint(0, 100),
        "active": {"now": False, "last": updated_at},
        "created_at": created_at,
        "updated_at": updated_at,
    }
