"""Configuration d'un export : identifiants, URL de l'API et répertoire de données.

Contrat (d'autres outils s'y fient) : chaque valeur vient d'un réglage Scrapy (-s) s'il est
donné, sinon de la variable d'environnement du même nom, sinon de son alias, sinon d'une
valeur par défaut (réglages *_DEFAULT, posés par crispscrape/addon.py). Les identifiants
n'ont pas de valeur par défaut.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from crispscrape.website import website_dir

IDENTIFIER, KEY, WEBSITE = "identifier", "key", "website"


@dataclass(frozen=True)
class Credential:
    """Une valeur d'accès : nom officiel (celui des scripts de l'utilisateur), alias accepté,
    rôle. L'identifiant et la clé sont secrets, pas l'identifiant du site."""

    name: str
    alias: str
    role: str

    @property
    def names(self) -> tuple[str, str]:
        return self.name, self.alias

    @property
    def secret(self) -> bool:
        return self.role != WEBSITE


# La table des identifiants, en un seul endroit : la commande crawl, le masquage JSON-RPC et
# les messages d'erreur en découlent.
CREDENTIALS = (
    Credential("CRISP_IDENTIFIER_PROD", "CRISP_TOKEN_ID", IDENTIFIER),
    Credential("CRISP_KEY_PROD", "CRISP_TOKEN_KEY", KEY),
    Credential("ID_SITE_CRISP", "CRISP_WEBSITE_ID", WEBSITE),
)
# Jetons des autres systèmes de discussion (crispscrape/sources/) et preuves des web hooks
# du direct (crispscrape/hooks.py) : secrets aussi.
OTHER_SECRETS = ("NINJA_API_TOKEN", "WANZO_API_TOKEN", "CRISP_HOOK_SECRET", "CRISP_HOOK_KEY")
# Tous les noms dont la valeur est un secret (jamais journalisés, jamais exposés).
SECRET_NAMES = tuple(name for credential in CREDENTIALS if credential.secret
                     for name in credential.names) + OTHER_SECRETS


def credential_names(role: str) -> tuple[str, ...]:
    """Noms (officiel puis alias) de la valeur d'accès qui a ce rôle."""
    return next(credential.names for credential in CREDENTIALS if credential.role == role)


class ConfigError(Exception):
    """Configuration inutilisable : le message (en français) est destiné à l'utilisateur."""


def lookup(name: str, settings, environ, alias: str | None = None) -> str:
    """Réglage Scrapy s'il est donné, sinon variable d'environnement (nom puis alias)."""
    for candidate in (name, alias):
        if candidate and settings.get(candidate):
            return str(settings.get(candidate))
    for candidate in (name, alias):
        if candidate and environ.get(candidate):
            return environ[candidate]
    return ""


def _credentials(settings, environ, website: str | None = None) -> dict[str, str]:
    """Lit les trois valeurs d'accès (par rôle) ; lève ConfigError en nommant celles qui manquent.

    ``website`` (``-a website=ID``, déjà vérifié) l'emporte sur ID_SITE_CRISP, alors facultatif.
    """
    environ = os.environ if environ is None else environ
    values = {credential.role: lookup(credential.name, settings, environ, credential.alias)
              for credential in CREDENTIALS}
    if website:
        values[WEBSITE] = website
    missing = [f"{credential.name} (ou {credential.alias})" for credential in CREDENTIALS
               if not values[credential.role]]
    if missing:
        raise ConfigError(
            "Identifiants Crisp manquants : définissez la ou les variables d'environnement "
            + ", ".join(missing) + ". Aucun appel n'a été fait, aucun fichier n'a été touché. "
            "Pour obtenir un jeton : docs/identifiants.md."
        )
    return values


def authorization_header(settings, environ=None, website: str | None = None) -> bytes:
    """Valeur de l'en-tête Authorization (Basic identifiant:clé).

    Seul le middleware d'authentification l'appelle : le secret ne vit que là.
    """
    values = _credentials(settings, environ, website)
    token = f"{values[IDENTIFIER]}:{values[KEY]}".encode()
    return b"Basic " + base64.b64encode(token)


# Les deux sortes de jeton Crisp (docs/api-crisp.md, docs/identifiants.md) : la valeur
# de l'en-tête X-Crisp-Tier, et le quota quotidien de chacune (documenté, avril 2026).
TOKEN_TIERS = {"plugin": 5000, "website": 10000}
TIER_NAME = "CRISP_TOKEN_TIER"


def token_tier(settings, environ=None) -> str:
    """« plugin » (défaut) ou « website » ; ConfigError en français pour toute autre valeur.

    Lu comme les identifiants (réglage -s, sinon variable d'environnement : cron, scrapyd)."""
    environ = os.environ if environ is None else environ
    value = lookup(TIER_NAME, settings, environ).strip().lower() or "plugin"
    if value not in TOKEN_TIERS:
        raise ConfigError(f"{TIER_NAME}={value!r} invalide : « plugin » (jeton de plugin du "
                          "Marketplace Crisp, le défaut) ou « website » (jeton de site, généré "
                          "dans l'application Crisp) est attendu. Aucun appel n'a été fait.")
    return value


def check_tier(settings) -> None:
    """ConfigError avant tout crawl si CRISP_TOKEN_TIER ou CRISP_REMOVED est illisible."""
    token_tier(settings)
    removal_policy(settings)


REMOVAL_POLICIES = ("erase", "keep")


def removal_policy(settings, environ=None) -> str:
    """CRISP_REMOVED : ``erase`` (défaut : effacer ce que Crisp a supprimé) ou ``keep`` ; lu
    comme les identifiants (réglage -s, sinon variable d'environnement)."""
    environ = os.environ if environ is None else environ
    value = lookup("CRISP_REMOVED", settings, environ).strip().lower() or "erase"
    if value not in REMOVAL_POLICIES:
        raise ConfigError(f"CRISP_REMOVED={value!r} invalide : « erase » (effacer des fichiers ce "
                          "que Crisp a supprimé, le défaut) ou « keep » (le garder, en le "
                          "notant) est attendu. Aucun appel n'a été fait.")
    return value


def daily_quota(settings, environ=None) -> int:
    """Quota quotidien : CRISP_DAILY_QUOTA s'il est donné, sinon celui de la sorte de jeton
    (5 000 plugin, 10 000 website) ; une valeur illisible de CRISP_TOKEN_TIER compte pour le
    défaut ici (elle est refusée avant tout crawl, voir check_tier)."""
    environ = os.environ if environ is None else environ
    explicit = lookup("CRISP_DAILY_QUOTA", settings, environ).strip()
    if explicit.isdigit():
        return int(explicit)
    try:
        return TOKEN_TIERS[token_tier(settings, environ)]
    except ConfigError:
        return TOKEN_TIERS["plugin"]


DEFAULT_API_URL = "https://api.crisp.chat/v1"
# Chemin de l'API versionnée : /v1 (celle de Crisp), éventuellement derrière un préfixe.
_VERSIONED_PATH = re.compile(r"(/[^/]+)*/v\d+")


def check_api_url(api_url: str) -> None:
    """Refuse avant tout appel une URL d'API inutilisable (ConfigError en français) : sans
    schéma http(s) ni hôte, ou sans la version (/v1) où vivent toutes les routes."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"CRISP_API_URL={api_url!r} n'est pas une adresse web complète : "
                          f"elle doit commencer par https:// (par exemple {DEFAULT_API_URL}). "
                          "Aucun appel n'a été fait.")
    if not _VERSIONED_PATH.fullmatch(parts.path):
        raise ConfigError(f"CRISP_API_URL={api_url!r} semble fausse : elle doit finir par la "
                          f"version de l'API, /v1 (par exemple {DEFAULT_API_URL}) ; sans elle, "
                          "chaque appel répond 404. Aucun appel n'a été fait.")


# Réglages numériques du projet, vérifiés avant tout crawl (message en français plutôt que
# l'« invalid literal for int() » de Python) : nom -> type.
NUMERIC_SETTINGS = {
    "CRISP_CONVERSATIONS_PER_PAGE": int, "CRISP_MESSAGES_BATCH_SIZE": int,
    "CRISP_CALL_BUDGET": int, "CRISP_DAILY_QUOTA": int,
    "CRISP_MESSAGES_LOOKBACK_DAYS": float, "CRISP_MESSAGES_STATE_FLUSH": float,
    "CRISP_PROGRESS_SECONDS": float, "CRISP_THROTTLE_BASE_DELAY": float,
    "CRISP_THROTTLE_MAX_DELAY": float, "CRISP_THROTTLE_MAX_TOTAL_WAIT": float,
    "CRISP_RETRY_BASE_DELAY": float, "RETRY_TIMES": int, "DOWNLOAD_TIMEOUT": float,
    "CONCURRENT_REQUESTS": int, "CONCURRENT_REQUESTS_PER_DOMAIN": int,
    "CRISP_FILES_MAX_SIZE": int, "CRISP_FILES_TIMEOUT": float, "CRISP_FILES_MAX_ATTEMPTS": int,
    "CRISP_CENSUS_DAYS": float, "CRISP_LIVE_MAX_DOWN_MINUTES": float,
    "CRISP_LIVE_SETTLE_MINUTES": float, "CRISP_LIVE_RECONCILE_HOURS": float,
    "CRISP_LIVE_LIST_MINUTES": float,
}


def check_numbers(settings) -> None:
    """ConfigError (en français) si un réglage numérique ne l'est pas."""
    for name, kind in NUMERIC_SETTINGS.items():
        value = settings.get(name)
        if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        try:
            kind(str(value).strip())
        except ValueError:
            expected = "un nombre entier" if kind is int else "un nombre (point décimal)"
            raise ConfigError(f"Réglage {name}={value!r} invalide : {expected} est attendu "
                              f"(par exemple -s {name}=…). Aucun appel n'a été fait.") from None


def data_dir_of(settings, environ=None, website: str | None = None) -> Path:
    """Répertoire de données seul, sans identifiants (état du compte, ``-a dry_run=1``) ;
    avec ``website`` (``-a website=ID``), celui de ce site : {CRISP_DATA_DIR}/{website}."""
    environ = os.environ if environ is None else environ
    root = Path(lookup("CRISP_DATA_DIR", settings, environ)
                or settings.get("CRISP_DATA_DIR_DEFAULT") or ".")
    return website_dir(root, website)


@dataclass(frozen=True)
class CrispConfig:
    """Valeurs non secrètes d'un export : site, URL de l'API, répertoire de données."""

    website_id: str
    api_url: str
    data_dir: Path
    # Vrai si le site vient de -a website=ID (ses fichiers sont dans un sous-répertoire).
    website_argument: bool = False
    # Sorte de jeton (en-tête X-Crisp-Tier) : « plugin » ou « website ».
    tier: str = "plugin"

    @classmethod
    def from_settings(cls, settings, environ=None, website: str | None = None) -> CrispConfig:
        """Résout la configuration ; lève ConfigError si un identifiant manque.

        ``website`` : identifiant déjà vérifié (website.parse_website) donné par -a website.
        """
        environ = os.environ if environ is None else environ
        values = _credentials(settings, environ, website)
        api_url = (lookup("CRISP_API_URL", settings, environ)
                   or settings.get("CRISP_API_URL_DEFAULT") or DEFAULT_API_URL).rstrip("/")
        check_api_url(api_url)
        return cls(website_id=values[WEBSITE], api_url=api_url,
                   data_dir=data_dir_of(settings, environ, website),
                   website_argument=website is not None, tier=token_tier(settings, environ))

    def website_url(self, *parts: str) -> str:
        """URL d'une ressource du site : {api}/website/{website_id}/{parts...}.

        Chaque partie est encodée : un identifiant hostile ne peut pas changer de route.
        """
        quoted = [quote(part, safe="") for part in (self.website_id, *parts)]
        return "/".join([self.api_url, "website", *quoted])
