"""Tables et vues de la base d'analyse (SQL DuckDB), documentées dans docs/analyse.md.

Chaque table est remplie par un ``INSERT … SELECT`` qui lit une SOURCE : une relation à deux
colonnes, ``json`` (la ligne) et ``filename`` (``@SOURCE@`` dans le SQL). La source lit les
fichiers de l'export (DuckDB les lit lui-même ; lecteurs dans readers.py), ou, pour un fichier
qui avait des lignes illisibles, sa copie réparée par le lecteur du projet. ``json`` est NULL
pour une ligne qui n'est pas du JSON, sauf pour les messages, où elle arrive telle quelle et
se décode en NULL (``TRY``). Une ligne se décode en UNE passe
(``json_extract_string`` sur une liste de chemins, ou ``json_transform`` vers une structure
typée) : une valeur du mauvais type devient NULL au lieu d'arrêter la lecture.

Les horodatages de Crisp (millisecondes depuis 1970, UTC) deviennent des TIMESTAMP en UTC.
"""

from __future__ import annotations

# Colonne qui doit être renseignée pour qu'une ligne compte : sinon elle est illisible ou
# inutilisable, retirée et signalée.
KEYS = {"messages": "fingerprint", "conversations": "session_id", "people": "email",
        "files": "fingerprint"}

TABLES = {
    "conversations": """
        session_id VARCHAR, website_id VARCHAR, people_id VARCHAR, inbox_id VARCHAR,
        state VARCHAR, status INTEGER, created_at TIMESTAMP, updated_at TIMESTAMP,
        last_active_at TIMESTAMP, waiting_since TIMESTAMP, is_verified BOOLEAN,
        is_blocked BOOLEAN, availability VARCHAR, assigned_operator_id VARCHAR,
        unread_operator INTEGER, unread_visitor INTEGER, last_message VARCHAR,
        last_message_fingerprint BIGINT, nickname VARCHAR, email VARCHAR, phone VARCHAR,
        subject VARCHAR, ip VARCHAR, origin VARCHAR, segments VARCHAR[], country VARCHAR,
        region VARCHAR, city VARCHAR, timezone INTEGER, locales VARCHAR[], os VARCHAR,
        browser VARCHAR, has_email BOOLEAN, has_profile BOOLEAN""",
    "messages": """
        session_id VARCHAR, fingerprint BIGINT, time TIMESTAMP, type VARCHAR, "from" VARCHAR,
        origin VARCHAR, text VARCHAR, file_name VARCHAR, file_url VARCHAR, file_mime VARCHAR,
        edited BOOLEAN, translated BOOLEAN, automated BOOLEAN, operator_id VARCHAR,
        operator VARCHAR""",
    "people": """
        people_id VARCHAR, email VARCHAR, nickname VARCHAR, gender VARCHAR, phone VARCHAR,
        address VARCHAR, website VARCHAR, timezone INTEGER, locales VARCHAR[], company VARCHAR,
        employer VARCHAR, job_title VARCHAR, country VARCHAR, region VARCHAR, city VARCHAR,
        segments VARCHAR[], notepad VARCHAR, score INTEGER, last_active_at TIMESTAMP,
        created_at TIMESTAMP, updated_at TIMESTAMP""",
    "files": """
        session_id VARCHAR, fingerprint BIGINT, url VARCHAR, path VARCHAR, size BIGINT,
        checksum VARCHAR, status VARCHAR, kept BOOLEAN""",
}

# Types à la lecture (json_transform) : seuls les champs utiles sont décodés.
_CONVERSATION_SHAPE = """{"session_id": "VARCHAR", "website_id": "VARCHAR",
    "people_id": "VARCHAR", "inbox_id": "VARCHAR", "state": "VARCHAR", "status": "INTEGER",
    "is_verified": "BOOLEAN", "is_blocked": "BOOLEAN", "availability": "VARCHAR",
    "active": {"last": "BIGINT"}, "last_message": "VARCHAR",
    "preview_message": {"fingerprint": "BIGINT"},
    "unread": {"operator": "INTEGER", "visitor": "INTEGER"}, "assigned": {"user_id": "VARCHAR"},
    "created_at": "BIGINT", "updated_at": "BIGINT", "waiting_since": "BIGINT",
    "meta": {"nickname": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR",
             "subject": "VARCHAR", "ip": "VARCHAR", "origin": "VARCHAR", "segments": ["VARCHAR"],
             "device": {"geolocation": {"country": "VARCHAR", "region": "VARCHAR",
                                        "city": "VARCHAR"},
                        "system": {"os": {"name": "VARCHAR"}, "browser": {"name": "VARCHAR"}},
                        "timezone": "INTEGER", "locales": ["VARCHAR"]}}}"""

_PROFILE_SHAPE = """{"people_id": "VARCHAR", "email": "VARCHAR",
    "person": {"nickname": "VARCHAR", "gender": "VARCHAR", "phone": "VARCHAR",
               "address": "VARCHAR", "website": "VARCHAR", "timezone": "INTEGER",
               "locales": ["VARCHAR"], "employment": {"name": "VARCHAR", "title": "VARCHAR"},
               "geolocation": {"country": "VARCHAR", "region": "VARCHAR", "city": "VARCHAR"}},
    "company": {"name": "VARCHAR"}, "segments": ["VARCHAR"], "notepad": "VARCHAR",
    "score": "INTEGER", "active": {"last": "BIGINT"}, "created_at": "BIGINT",
    "updated_at": "BIGINT"}"""

_FILE_SHAPE = """{"session_id": "VARCHAR", "fingerprint": "BIGINT", "url": "VARCHAR",
    "path": "VARCHAR", "size": "BIGINT", "checksum": "VARCHAR", "status": "VARCHAR"}"""


def _shape(text: str) -> str:
    """La structure, en littéral SQL sur une ligne."""
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


# Champs d'un message, lus en UNE passe par json_extract_string (plus rapide qu'une
# structure typée : le contenu n'est ni resérialisé ni relu). f[1] … f[17], dans cet ordre.
MESSAGE_FIELDS = ("['$.session_id', '$.fingerprint', '$.timestamp', '$.type', '$.from', "
                  "'$.origin', '$.edited', '$.translated', '$.automated', '$.user.user_id', "
                  "'$.user.nickname', '$.content', '$.content.text', '$.content.name', "
                  "'$.content.url', '$.content.namespace', '$.content.type']")

# Texte d'un message, quel que soit son contenu : une chaîne (text, note) telle quelle ; un
# objet (file, audio, animation, carousel, picker, field, event) : son premier champ lisible
# non vide parmi text, name, url, namespace ; autre chose (nombre, liste) : son JSON.
# Une chaîne qui commence par « { » ressemble au JSON d'un objet : seulement dans ce cas
# (rare), le type du contenu est demandé à la ligne elle-même.
MACROS = """
CREATE OR REPLACE TEMP MACRO message_text(line, f) AS
    coalesce(nullif(f[13], ''), nullif(f[14], ''), nullif(f[15], ''), nullif(f[16], ''),
             CASE WHEN f[12] IS NULL OR left(f[12], 1) <> '{' THEN f[12]
                  WHEN json_type(line, '$.content') = 'VARCHAR' THEN f[12] END);
CREATE OR REPLACE TEMP MACRO whole(x) AS
    coalesce(TRY_CAST(x AS BIGINT), TRY_CAST(TRY_CAST(x AS DOUBLE) AS BIGINT));
CREATE OR REPLACE TEMP MACRO ms_time(ms) AS
    CASE WHEN ms > 0 AND ms < 253402300800000 THEN epoch_ms(ms) END;
"""

INSERTS = {
    "messages": f"""
INSERT INTO messages
SELECT coalesce(f[1], parse_filename(filename, true)), whole(f[2]), ms_time(whole(f[3])),
       f[4], f[5], f[6], message_text(json, f), f[14],
       CASE WHEN f[4] IN ('file', 'audio', 'animation') THEN f[15] END, f[17],
       TRY_CAST(f[7] AS BOOLEAN), TRY_CAST(f[8] AS BOOLEAN), TRY_CAST(f[9] AS BOOLEAN),
       CASE WHEN f[5] = 'operator' THEN f[10] END, CASE WHEN f[5] = 'operator' THEN f[11] END
FROM (SELECT json, @DECODE@(json_extract_string(json, {MESSAGE_FIELDS})) AS f, filename
      FROM @SOURCE@)""",
    "conversations": f"""
INSERT INTO conversations
SELECT c.session_id, c.website_id, c.people_id, c.inbox_id, c.state, c.status,
       ms_time(c.created_at), ms_time(c.updated_at), ms_time(c.active.last),
       ms_time(c.waiting_since), c.is_verified, c.is_blocked, c.availability,
       c.assigned.user_id, c.unread.operator, c.unread.visitor, c.last_message,
       c.preview_message.fingerprint, c.meta.nickname, nullif(trim(c.meta.email), ''),
       nullif(c.meta.phone, ''), nullif(c.meta.subject, ''), c.meta.ip, c.meta.origin,
       c.meta.segments, c.meta.device.geolocation.country, c.meta.device.geolocation.region,
       c.meta.device.geolocation.city, c.meta.device.timezone, c.meta.device.locales,
       c.meta.device.system.os.name, c.meta.device.system.browser.name,
       coalesce(trim(c.meta.email), '') LIKE '%@%',
       lower(trim(c.meta.email)) IN (SELECT lower(trim(email)) FROM people)
FROM (SELECT json_transform(
        CASE WHEN json->>'session_id' IS NULL AND json_type(json, '$.data') = 'OBJECT'
             THEN json->'data' ELSE json END,  -- anciens exports : enveloppe « data »
        {_shape(_CONVERSATION_SHAPE)}) AS c
      FROM @SOURCE@)""",
    "people": f"""
INSERT INTO people
SELECT p.people_id, nullif(trim(p.email), ''), p.person.nickname, p.person.gender,
       nullif(p.person.phone, ''), nullif(p.person.address, ''), nullif(p.person.website, ''),
       p.person.timezone, p.person.locales, nullif(p.company.name, ''),
       nullif(p.person.employment.name, ''), nullif(p.person.employment.title, ''),
       p.person.geolocation.country, p.person.geolocation.region, p.person.geolocation.city,
       p.segments, nullif(p.notepad, ''), p.score, ms_time(p.active.last),
       ms_time(p.created_at), ms_time(p.updated_at)
FROM (SELECT json_transform(
        CASE WHEN json->>'email' IS NULL AND json_type(json, '$.data') = 'OBJECT'
             THEN json->'data' ELSE json END,  -- script d'origine : enveloppe « data »
        {_shape(_PROFILE_SHAPE)}) AS p
      FROM @SOURCE@)""",
    "files": f"""
INSERT INTO files
SELECT f.session_id, f.fingerprint, f.url, f.path, f.size, f.checksum, f.status,
       f.status = 'ok'
FROM (SELECT json_transform(json, {_shape(_FILE_SHAPE)}) AS f FROM @SOURCE@)""",
}

# Messages qui comptent comme une réponse d'un opérateur : ni note interne, ni événement,
# ni message automatique (robot, réponse programmée).
VIEWS = """
CREATE VIEW first_response AS
WITH asked AS (
    SELECT session_id, min(time) AS asked_at FROM messages
    WHERE "from" = 'user' AND time IS NOT NULL GROUP BY session_id)
SELECT a.session_id, a.asked_at, min(m.time) AS answered_at,
       date_diff('millisecond', a.asked_at, min(m.time)) / 1000 AS first_response_seconds,
       arg_min(m.operator, m.time) AS operator
FROM asked a
LEFT JOIN messages m ON m.session_id = a.session_id AND m."from" = 'operator'
     AND m.time >= a.asked_at AND coalesce(m.type, '') NOT IN ('note', 'event')
     AND NOT coalesce(m.automated, false)
GROUP BY a.session_id, a.asked_at;

CREATE VIEW resolution_time AS
WITH span AS (
    SELECT session_id, min(time) AS first_message_at, max(time) AS last_message_at,
           count(*) AS messages
    FROM messages GROUP BY session_id)
SELECT c.session_id, c.state, c.state = 'resolved' AS resolved,
       coalesce(s.first_message_at, c.created_at) AS started_at, s.last_message_at,
       coalesce(s.messages, 0) AS messages,
       CASE WHEN c.state = 'resolved' THEN
            date_diff('millisecond', coalesce(s.first_message_at, c.created_at),
                      s.last_message_at) / 1000
       END AS resolution_seconds
FROM conversations c LEFT JOIN span s USING (session_id);

CREATE VIEW messages_per_day AS
SELECT CAST(time AS DATE) AS day, count(*) AS messages,
       count(*) FILTER (WHERE "from" = 'user') AS from_visitors,
       count(*) FILTER (WHERE "from" = 'operator') AS from_operators,
       count(DISTINCT session_id) AS conversations
FROM messages WHERE time IS NOT NULL GROUP BY ALL ORDER BY day;
"""
