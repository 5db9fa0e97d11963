"""Crisp : l'adaptateur du premier système exporté (araignées conversations, messages, users).

Les fonctions sur les objets Crisp restent dans ``crispscrape/model.py`` ; ce module les
présente au cœur commun sous la forme d'un ``MessageModel`` et d'un ``Source``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from crispscrape import model
from crispscrape.api import error_reason, parse_envelope
from crispscrape.config import CrispConfig, authorization_header, token_tier
from crispscrape.sources.base import MessageModel, Source
from crispscrape.storage.files import safe_name


class CrispModel(MessageModel):
    folder = "conversations"
    listing_name = "conversations.jsonl"
    missing_listing = ("Lancez d'abord « scrapy crawl account » (ou « scrapy crawl "
                       "conversations ») : le direct et les messages partent de cette liste.")

    unwrap = staticmethod(model.unwrap)

    def conversation_id(self, obj: Any) -> str | None:
        return model.session_id_of(obj)

    def file_name(self, conversation_id: str) -> str | None:
        # Contrat des exports Crisp : le fichier porte le session_id ; un identifiant qui ne
        # peut pas servir de nom est ignoré (compté), jamais transformé.
        return conversation_id + ".jsonl" if safe_name(conversation_id) else None

    def marker(self, obj: dict) -> str | None:
        return model.activity_marker(obj)

    def activity(self, obj: dict) -> int | None:
        return model.activity_of(obj)

    def email(self, obj: dict) -> str | None:
        meta = obj.get("meta")
        return model.email_key(meta.get("email")) if isinstance(meta, dict) else None

    def message_key(self, message: Any) -> Hashable | None:
        fingerprint = message.get("fingerprint") if isinstance(message, dict) else None
        return fingerprint if isinstance(fingerprint, int) else None

    order = staticmethod(model.message_order)

    def partial_marker(self, messages: Iterable[dict]) -> int | None:
        # Le plus ancien timestamp du fichier partiel : la remontée reprendra sous lui.
        return min(m["timestamp"] for m in messages)


CRISP_MODEL = CrispModel()


class CrispSource(Source):
    name = "crisp"
    label = "Crisp"
    model = CRISP_MODEL
    url_name = "CRISP_API_URL"
    url_hint = "Elle doit finir par /v1, par exemple https://api.crisp.chat/v1."
    fatal = {
        401: ("unauthorized", "Identifiants Crisp refusés (HTTP 401) : vérifiez "
                              "CRISP_IDENTIFIER_PROD et CRISP_KEY_PROD. {hint}"),
        403: ("forbidden", "Accès refusé par Crisp (HTTP 403 {reason}) : le jeton doit avoir "
                           "accès à ce site, et un jeton de plugin les scopes en lecture "
                           "(docs/identifiants.md). {hint}"),
    }
    # Ce que dit un refus selon la sorte de jeton déclarée : l'autre sorte est la cause la
    # plus fréquente d'un premier 401 (un jeton de site envoyé comme jeton de plugin).
    tier_hints = {
        "plugin": ("Jeton déclaré de plugin (CRISP_TOKEN_TIER=plugin, le défaut). Si votre "
                   "jeton a été généré dans l'application Crisp (Settings › Workspace Settings › "
                   "Advanced configuration › API Token), c'est un jeton de site : "
                   "posez CRISP_TOKEN_TIER=website (voir docs/identifiants.md)."),
        "website": ("Jeton déclaré de site (CRISP_TOKEN_TIER=website). Si c'est un jeton de "
                    "plugin du Marketplace Crisp, posez CRISP_TOKEN_TIER=plugin ou retirez "
                    "CRISP_TOKEN_TIER (voir docs/identifiants.md)."),
    }

    def fatal_message(self, status: int, reason: str, config) -> tuple[str, str] | None:
        if status == 404 and reason == "not_subscribed":
            return reason, (f"Le site {config.website_id} n'est pas lié à ce jeton Crisp (HTTP 404 "
                            "not_subscribed) : vérifiez ID_SITE_CRISP (jeton de plugin : le plugin "
                            "doit être installé sur ce site).")
        known = self.fatal.get(status)
        if known is None:
            return None
        code, message = known
        hint = self.tier_hints[getattr(config, "tier", "plugin")]
        return code, message.format(reason=reason, hint=hint).strip()

    def config(self, settings, environ=None,  # type: ignore[override]
               website: str | None = None) -> CrispConfig:
        return CrispConfig.from_settings(settings, environ, website=website)

    def headers(self, settings, environ=None, website: str | None = None) -> dict[bytes, bytes]:
        return {b"Authorization": authorization_header(settings, environ, website),
                b"X-Crisp-Tier": token_tier(settings, environ).encode(),
                b"Content-Type": b"application/json"}

    def parse(self, response, expected_type) -> Any:
        return parse_envelope(response, expected_type)

    def error_reason(self, response) -> str:
        return error_reason(response) or ""


CRISP = CrispSource()
