"""Un nœud scrapyd, vu par son API JSON (celle de scrapyd, rien de plus).

Bibliothèque standard seulement (urllib) : la commande tourne depuis le projet et n'ajoute
aucune dépendance d'exécution. Un identifiant/mot de passe dans l'URL
(``http://user:mdp@hote:6800``) part en en-tête Basic et n'est jamais affiché.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

# Délai d'une réponse de scrapyd : un nœud qui ne répond pas est traité comme arrêté.
TIMEOUT = 10.0


class NodeError(Exception):
    """Nœud injoignable ou réponse refusée : le message (en français) est pour l'utilisateur."""


def check_node_url(url: str) -> str:
    """L'URL d'un nœud, sans barre oblique finale ; NodeError si elle est inutilisable."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NodeError(f"Nœud {url!r} invalide : une adresse http(s)://hôte:port est attendue "
                        "(par exemple http://127.0.0.1:6800).")
    return url.strip().rstrip("/")


class ScrapydNode:
    """Un démon scrapyd ; ``name`` : son URL sans identifiants (pour les messages)."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        url = check_node_url(url)
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        self.name = self.base
        self._auth = None
        if parts.username:
            token = f"{urllib.parse.unquote(parts.username)}:" \
                    f"{urllib.parse.unquote(parts.password or '')}"
            self._auth = "Basic " + base64.b64encode(token.encode()).decode()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ScrapydNode({self.name})"

    # --- Transport ---------------------------------------------------------------------------
    def _call(self, endpoint: str, body: bytes | None = None,
              content_type: str | None = None, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.base}/{endpoint}{query}", data=body)
        if self._auth:
            request.add_header("Authorization", self._auth)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise NodeError(f"{self.name} : {endpoint} a répondu HTTP {exc.code}.") from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise NodeError(f"{self.name} injoignable ({reason}).") from None
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise NodeError(f"{self.name} : {endpoint} refusé ({str(message).strip()[:300]}).")
        return answer

    def _form(self, endpoint: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
        body = urllib.parse.urlencode(fields).encode("ascii")
        return self._call(endpoint, body, "application/x-www-form-urlencoded")

    # --- API de scrapyd ------------------------------------------------------------------------
    def daemonstatus(self) -> dict[str, Any]:
        return self._call("daemonstatus.json")

    def listjobs(self, project: str) -> dict[str, Any]:
        """pending/running/finished du projet ; NodeError si le projet n'y est pas déployé."""
        return self._call("listjobs.json", project=project)

    def listversions(self, project: str) -> list[str]:
        return list(self._call("listversions.json", project=project).get("versions", []))

    def schedule(self, project: str, spider: str, jobid: str, arguments: dict[str, str]) -> str:
        fields = [("project", project), ("spider", spider), ("jobid", jobid),
                  *sorted(arguments.items())]
        return str(self._form("schedule.json", fields)["jobid"])

    def addversion(self, project: str, version: str, egg: bytes) -> dict[str, Any]:
        """Envoie l'œuf (multipart/form-data, comme scrapyd-deploy)."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (("project", project), ("version", version)):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         f"{value}\r\n".encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; '
                     'filename="project.egg"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + egg + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self._call("addversion.json", b"".join(parts),
                          f"multipart/form-data; boundary={boundary}")
