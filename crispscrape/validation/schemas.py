"""Schémas JSON des objets Crisp, réduits à ce dont l'exportateur dépend.

Un schéma ne décrit pas tout l'objet : l'API ajoute des champs sans prévenir, et tout objet
est gardé tel que reçu. Il exige les champs dont un fichier dépend (dédoublonnage, tri, nom
du fichier, clé d'un profil) et, pour les autres champs que le code lit, le type attendu
s'ils sont présents. Pas d'énumération (``type``, ``from``…) : un nouveau type de message
chez Crisp rendrait sinon tout un compte « non valide ».
"""

from __future__ import annotations

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Millisecondes depuis 1970 : un entier positif (jamais une chaîne ni un booléen).
TIMESTAMP = {"type": "integer", "minimum": 0}
TEXT = {"type": "string", "minLength": 1}

# Un message : fingerprint (dédoublonnage), timestamp (tri, pagination), session_id, type
# et from (lus par les rapports et les pièces jointes).
MESSAGE = {
    "$schema": DRAFT,
    "title": "message Crisp",
    "type": "object",
    "required": ["session_id", "fingerprint", "timestamp", "type", "from"],
    "properties": {
        "session_id": TEXT,
        "fingerprint": {"type": "integer"},
        "timestamp": TIMESTAMP,
        "type": TEXT,
        "from": TEXT,
        "origin": {"type": "string"},
        "user": {"type": "object"},
        "edited": {"type": "boolean"},
    },
}

# Une conversation de la liste : session_id (nom du fichier de messages), et les champs
# qui disent son activité (active.last, updated_at, preview_message.fingerprint : voir
# model.activity_marker) et l'e-mail de la personne (export des profils).
CONVERSATION = {
    "$schema": DRAFT,
    "title": "conversation Crisp",
    "type": "object",
    "required": ["session_id"],
    "properties": {
        "session_id": TEXT,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "active": {"type": "object", "properties": {"last": TIMESTAMP}},
        "meta": {"type": "object", "properties": {"email": {"type": ["string", "null"]}}},
        "preview_message": {"type": ["object", "null"],
                            "properties": {"fingerprint": {"type": "integer"}}},
    },
}

# Un profil : l'e-mail est sa clé dans utilisateurs.jsonl (voir model.profile_key).
PROFILE = {
    "$schema": DRAFT,
    "title": "profil Crisp",
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "pattern": "@"},
        "people_id": {"type": "string"},
        "person": {"type": ["object", "null"]},
        "segments": {"type": "array"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}

# Les autres systèmes (crispscrape/sources/) : l'identifiant (dédoublonnage, ancre de la
# pagination) et la date (tri du fichier).
NINJA_MESSAGE = {
    "$schema": DRAFT,
    "title": "message Ninja",
    "type": "object",
    "required": ["id", "date"],
    "properties": {"id": {"type": "integer"}, "date": TEXT, "author": {"type": "string"}},
}
WANZO_MESSAGE = {
    "$schema": DRAFT,
    "title": "message Wanzo",
    "type": "object",
    "required": ["id", "timestamp"],
    "properties": {"id": TEXT, "timestamp": TEXT, "sender": {"type": "string"}},
}
