"""Pipeline de validation : chaque objet reçu de l'API passe son schéma JSON avant d'être écrit.

Nos items portent une réponse entière (un lot de messages, une page de conversations, un
profil) : le pipeline de Spidermon (``ItemValidationPipeline``) validerait l'item, nous
validons les objets qu'il porte, avec les mêmes validateurs (``JSONSchemaValidator``) et
les mêmes statistiques (``spidermon/validation/...``), que ses moniteurs savent lire.

Un objet non valide n'est jamais écrit dans les fichiers de l'export comme s'il l'était :
il est mis de côté, tel que reçu, dans un fichier ``*.invalides.jsonl`` à côté du fichier
de l'export (avec le nom des champs fautifs), compté, et signalé par un avertissement qui
nomme la conversation, jamais le contenu. Rien n'est perdu, et rien n'est redemandé en
boucle : la conversation d'un message mis de côté se termine normalement, une conversation
mise de côté revient dans la liste quand elle change, un profil mis de côté est retenu
comme traité (``-a reset=1`` le redemande). Voir docs/monitors.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from spidermon.contrib.scrapy.pipelines import ItemValidationPipeline
from spidermon.contrib.validation import JSONSchemaValidator, messages as spidermon_messages

from crispscrape.items import ConversationsPage, MessageBatch, ProfileItem
from crispscrape.storage.files import append_lines, dumps_line
from crispscrape.validation import schemas
from crispscrape.validation.fastpath import compile_check
from crispscrape.context import export_context
from crispscrape.storage.layout import ExportLayout

logger = logging.getLogger(__name__)

# Type d'objet -> (schéma, fichier de mise à l'écart sous CRISP_DATA_DIR). Hors du dossier
# des messages : tout *.jsonl de ce dossier y est pris pour une conversation.
# Chemins relatifs au répertoire de l'export, donnés par storage/layout.py.
_CRISP = ExportLayout(Path())
KINDS = {
    "message": (schemas.MESSAGE, _CRISP.invalid("message")),
    "conversation": (schemas.CONVERSATION, _CRISP.invalid("conversation")),
    "profile": (schemas.PROFILE, _CRISP.invalid("profile")),
    "ninja_message": (schemas.NINJA_MESSAGE, ExportLayout(Path(), "ninja").invalid("message")),
    "wanzo_message": (schemas.WANZO_MESSAGE, ExportLayout(Path(), "wanzo").invalid("message")),
}
# Statistique du nombre d'objets non valides d'un type (le total est celui de Spidermon).
INVALID_STAT = "spidermon/validation/items/errors/{kind}"
# Nombre d'objets validés, celui que tient ``ValidationStatsManager.add_item`` de Spidermon :
# compté par lot d'un seul coup (add_item refait le nom de la statistique, slugify compris,
# à chaque objet : 1,7 s de profil pour 37 000 messages, issue 9).
ITEMS_STAT = "spidermon/validation/items"
# Messages d'erreur traduits par Spidermon : les seuls gardés tels quels. Un message non
# traduit de jsonschema cite la valeur fautive (un e-mail, un texte) : il est remplacé.
KNOWN_MESSAGES = {value for name, value in vars(spidermon_messages).items()
                  if name.isupper() and isinstance(value, str) and "{" not in value}


class FastJSONSchemaValidator(JSONSchemaValidator):
    """Le validateur de Spidermon, précédé d'une vérification rapide tirée du même schéma.

    Un objet sûrement valide (presque tous) ne passe pas par jsonschema (~0,2 ms par objet,
    voir fastpath.py) ; les autres ont le validateur complet de Spidermon, qui décide et
    nomme les erreurs (champs, messages traduits).
    """

    def __init__(self, schema):
        super().__init__(schema)
        self.surely_valid = compile_check(schema)

    def _validate(self, data, strict=False):
        if not self.surely_valid(data):
            super()._validate(data, strict=strict)


class CrispValidationPipeline(ItemValidationPipeline):
    """Valide les objets de chaque item ; met de côté ceux qui ne passent pas."""

    def __init__(self, crawler):
        super().__init__(
            validators={kind: [FastJSONSchemaValidator(schema)]
                        for kind, (schema, _) in KINDS.items()},
            stats=crawler.stats,
        )
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item, spider=None):
        if isinstance(item, MessageBatch) and item.messages:
            # Chaque système a son schéma de message (voir crispscrape/sources/).
            context = export_context(self.crawler)
            source = context.source.name if context is not None else "crisp"
            kind = "message" if source == "crisp" else f"{source}_message"
            item.messages = self._keep_valid(kind, item.messages, item.session_id)
        elif isinstance(item, ConversationsPage) and item.conversations:
            received = len(item.conversations)
            item.conversations = self._keep_valid("conversation", item.conversations, None)
            item.set_aside = received - len(item.conversations)
        elif isinstance(item, ProfileItem) and item.profile is not None:
            if not self._keep_valid("profile", [item.profile], None):
                # Marquée seulement : le pipeline des profils, seul à écrire leur magasin, la
                # retient comme traitée (elle ne sera pas redemandée à chaque exécution).
                item.set_aside = True
        return item

    def _keep_valid(self, kind: str, objects: list, session_id: str | None) -> list:
        kept, rejected = [], []
        validator = self.validators[kind][0]
        surely_valid = validator.surely_valid
        self.crawler.stats.inc_value(ITEMS_STAT, count=len(objects))
        for obj in objects:
            if surely_valid(obj):
                # Le cas de presque tous : ni réinitialisation ni traduction d'erreurs.
                kept.append(obj)
                continue
            ok, errors = validator.validate(obj)
            if ok:
                kept.append(obj)
                continue
            errors = {field: [m if m in KNOWN_MESSAGES else "Invalid value" for m in found]
                      for field, found in errors.items()}
            self._add_error_stats(errors)
            self.crawler.stats.inc_value(INVALID_STAT.format(kind=kind))
            rejected.append((obj, errors))
        if rejected:
            self._set_aside(kind, rejected, session_id)
        return kept

    def _set_aside(self, kind: str, rejected: list[tuple[Any, dict]], session_id: str | None) -> None:
        path = export_context(self.crawler).config.data_dir / KINDS[kind][1]  # type: ignore[union-attr]
        lines = []
        for obj, errors in rejected:
            owner = session_id or _text(obj, "session_id") or _text(obj, "people_id") or "?"
            fields = ", ".join(sorted(errors)) or "(objet)"
            lines.append(dumps_line({"type": kind, "session_id": session_id or _text(obj, "session_id"),
                                     "errors": errors, "object": obj}))
            # Le nom des champs et l'identifiant, jamais le contenu (données personnelles).
            logger.warning("%s %s : %s non valide (champs : %s), mis de côté dans %s ; il n'est "
                           "pas écrit dans l'export.", "Conversation" if kind != "profile"
                           else "Profil", owner, FRENCH[kind], fields, path)
        append_lines(path, lines)


FRENCH = {"message": "un message", "conversation": "l'objet conversation",
          "profile": "la fiche", "ninja_message": "un message", "wanzo_message": "un message"}


def _text(obj: Any, name: str) -> str | None:
    value = obj.get(name) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None
