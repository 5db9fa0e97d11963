"""Configuration d'un export : identifiants, URL de l'API et répertoire de données.

Contrat (d'autres outils s'y fient) : chaque valeur vient d'un réglage Scrapy (-s) s'il est
donné, sinon de la variable d'environnement du même nom, sinon de son alias, sinon d'une
valeur par défaut. Les identifiants n'ont pas de valeur par défaut.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

# Nom officiel (celui des scripts de l'utilisateur) -> alias accepté.
CREDENTIAL_NAMES = {
    "CRISP_IDENTIFIER_PROD": "CRISP_TOKEN_ID",
    "CRISP_KEY_PROD": "CRISP_TOKEN_KEY",
    "ID_SITE_CRISP": "CRISP_WEBSITE_ID",
}
# Tous les noms dont la valeur est un secret (jamais journalisés, jamais exposés).
SECRET_NAMES = ("CRISP_IDENTIFIER_PROD", "CRISP_TOKEN_ID", "CRISP_KEY_PROD", "CRISP_TOKEN_KEY")


class ConfigError(Exception):
    """Configuration inutilisable : le message (en français) est destiné à l'utilisateur."""


def _lookup(name: str, settings, environ, alias: str | None = None) -> str:
    for candidate in (name, alias):
        if candidate and settings.get(candidate):
            return str(settings.get(candidate))
    for candidate in (name, alias):
        if candidate and environ.get(candidate):
            return environ[candidate]
    return ""


def _credentials(settings, environ) -> dict[str, str]:
    """Lit les trois valeurs d'accès ; lève ConfigError en nommant celles qui manquent."""
    environ = os.environ if environ is None else environ
    values = {name: _lookup(name, settings, environ, alias)
              for name, alias in CREDENTIAL_NAMES.items()}
    missing = [f"{name} (ou {CREDENTIAL_NAMES[name]})" for name, value in values.items() if not value]
    if missing:
        raise ConfigError(
            "Identifiants Crisp manquants : définissez la ou les variables d'environnement "
            + ", ".join(missing) + ". Aucun appel n'a été fait, aucun fichier n'a été touché."
        )
    return values


def authorization_header(settings, environ=None) -> bytes:
    """Valeur de l'en-tête Authorization (Basic identifiant:clé).

    Seul le middleware d'authentification l'appelle : le secret ne vit que là.
    """
    values = _credentials(settings, environ)
    token = f"{values['CRISP_IDENTIFIER_PROD']}:{values['CRISP_KEY_PROD']}".encode()
    return b"Basic " + base64.b64encode(token)


def data_dir_of(settings, environ=None) -> Path:
    """Répertoire de données seul, sans identifiants (état du compte, ``-a dry_run=1``)."""
    environ = os.environ if environ is None else environ
    return Path(_lookup("CRISP_DATA_DIR", settings, environ)
                or settings.get("CRISP_DATA_DIR_DEFAULT") or ".")


@dataclass(frozen=True)
class CrispConfig:
    """Valeurs non secrètes d'un export : site, URL de l'API, répertoire de données."""

    website_id: str
    api_url: str
    data_dir: Path

    @classmethod
    def from_settings(cls, settings, environ=None) -> CrispConfig:
        """Résout la configuration ; lève ConfigError si un identifiant manque."""
        environ = os.environ if environ is None else environ
        values = _credentials(settings, environ)
        api_url = (_lookup("CRISP_API_URL", settings, environ)
                   or settings.get("CRISP_API_URL_DEFAULT")).rstrip("/")
        data_dir = Path(_lookup("CRISP_DATA_DIR", settings, environ)
                        or settings.get("CRISP_DATA_DIR_DEFAULT"))
        return cls(website_id=values["ID_SITE_CRISP"], api_url=api_url, data_dir=data_dir)

    def website_url(self, *parts: str) -> str:
        """URL d'une ressource du site : {api}/website/{website_id}/{parts...}.

        Chaque partie est encodée : un identifiant hostile ne peut pas changer de route.
        """
        quoted = [quote(part, safe="") for part in (self.website_id, *parts)]
        return "/".join([self.api_url, "website", *quoted])
