"""Événements RTM nés des mutations d'administration (admin.py) ; champs du contrat de
l'issue (docs/sandbox.md, « Temps réel »), tous avec ``website_id`` :

- ``message:send`` : un par message ajouté, avec ``session_id``, ``inbox_id`` (null) et les
  champs de l'événement dans les types du client Node (type, from, origin, fingerprint,
  timestamp, user, content, et mentions, stamped, automated si le message les a) ; les champs
  propres au REST (read, delivered, edited, preview, references, original…) n'y sont pas ;
- ``message:updated`` : ``session_id``, ``fingerprint`` et le nouveau ``content`` ;
- ``message:removed`` : ``session_id``, ``fingerprint`` ;
- ``session:removed`` : ``session_id`` ;
- ``session:set_state`` : ``session_id``, ``state`` de chaque conversation créée ;
- ``people:profile:removed`` : ``people_id`` ;
- ``people:profile:updated`` : ``people_id`` et ``email`` de la fiche modifiée.
"""

from __future__ import annotations

from .rtm import RtmHub

# Champs d'un message repris dans message:send, puis ceux qui n'y sont que s'il les a.
MESSAGE_FIELDS = ("website_id", "session_id", "inbox_id", "type", "from", "origin", "fingerprint",
                  "timestamp", "user", "content")
OPTIONAL_MESSAGE_FIELDS = ("mentions", "stamped", "automated")


def message_send(message: dict) -> dict:
    """Contenu de message:send pour un message tel que le jeu de données le rend."""
    # inbox_id : None, les messages du bac à sable n'ont pas de boîte de réception.
    data = {name: message.get(name) for name in MESSAGE_FIELDS}
    data.update((name, message[name]) for name in OPTIONAL_MESSAGE_FIELDS if name in message)
    return data


def _session(website_id: str, session_id: str, **fields: object) -> dict:
    return {"website_id": website_id, "session_id": session_id, **fields}


async def messages_added(hub: RtmHub, website_id: str, messages: list[dict]) -> None:
    for message in messages:
        await hub.publish(website_id, "message:send", message_send(message))


async def message_updated(hub: RtmHub, website_id: str, message: dict) -> None:
    await hub.publish(website_id, "message:updated", _session(
        website_id, message["session_id"], fingerprint=message["fingerprint"], content=message["content"]))


async def message_removed(hub: RtmHub, website_id: str, message: dict) -> None:
    await hub.publish(website_id, "message:removed", _session(
        website_id, message["session_id"], fingerprint=message["fingerprint"]))


async def session_removed(hub: RtmHub, website_id: str, conversation: dict) -> None:
    await hub.publish(website_id, "session:removed", _session(website_id, conversation["session_id"]))


async def sessions_created(hub: RtmHub, website_id: str, conversations: list[dict]) -> None:
    for conversation in conversations:
        await hub.publish(website_id, "session:set_state", _session(
            website_id, conversation["session_id"], state=conversation["state"]))


async def profile_removed(hub: RtmHub, website_id: str, profile: dict) -> None:
    await hub.publish(website_id, "people:profile:removed", {"website_id": website_id,
                                                             "people_id": profile["people_id"]})


async def profile_updated(hub: RtmHub, website_id: str, profile: dict) -> None:
    await hub.publish(website_id, "people:profile:updated", {
        "website_id": website_id, "people_id": profile["people_id"], "email": profile["email"]})
