"""Lance une doublure (ninja ou wanzo) dans un sous-processus : tests, bancs, démonstration.

    with start_standin("wanzo", conversations=20, drift_every=3) as wanzo:
        os.environ.update(wanzo.env())          # WANZO_API_URL, WANZO_API_TOKEN
        wanzo.append(wanzo.truth()["conversations"][0]["id"], count=3)

Même lanceur que le bac à sable Crisp (crispsandbox/process.py : port libre annoncé par
--port-file, arrêt par SIGTERM) ; les options sont celles de la ligne de commande
(« drift_every » -> --drift-every, un booléen vrai -> le drapeau seul).
"""

from __future__ import annotations

import json as jsonlib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..process import SandboxProcess


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Laisse voir les 301 au lieu de les suivre."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class StandinProcess(SandboxProcess):
    """Une doublure en sous-processus, avec les aides d'administration des tests."""

    def __init__(self, system: str, **options: object) -> None:
        super().__init__(system=system, **options)
        self.system = system
        self.token: str | None = None

    def _command(self, port_file: Path) -> list[str]:
        flags = {name: value for name, value in self.options.items() if isinstance(value, bool)}
        others = {name: value for name, value in self.options.items() if not isinstance(value, bool)}
        self.options = others
        try:
            command = super()._command(port_file)
        finally:
            self.options = {**others, **flags}
        return command + [f"--{name.replace('_', '-')}" for name, value in flags.items() if value]

    def _configure(self, config: dict) -> None:
        self.url = f"{self.base}{config['api_path']}"
        self.token = config["token"]

    def env(self) -> dict[str, str]:
        """Variables attendues par l'exportateur : {SYSTEME}_API_URL et, s'il y a un jeton, {SYSTEME}_API_TOKEN."""
        prefix = self.system.upper()
        variables = {f"{prefix}_API_URL": self.url}
        if self.token:
            variables[f"{prefix}_API_TOKEN"] = self.token
        return variables

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @staticmethod
    def quote(key: str) -> str:
        """Identifiant en un seul segment de chemin (« a/b » -> « a%2Fb »)."""
        return urllib.parse.quote(key, safe="")

    def get(self, path: str, params: dict | None = None, headers: dict | None = None,
            timeout: float = 30) -> tuple[int, dict, object]:
        """GET sur l'API (chemin relatif à .url), sans suivre les redirections ni lever sur 4xx/5xx :
        (statut, en-têtes, JSON décodé ou texte brut si ce n'est pas du JSON)."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers=self.auth_headers() if headers is None else headers)
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, response_headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                status, response_headers, raw = error.code, dict(error.headers), error.read()
        try:
            return status, response_headers, jsonlib.loads(raw.decode("utf-8"))
        except ValueError:
            return status, response_headers, raw.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ administration

    def truth(self) -> dict:
        """{"conversations": [objets de l'API], "messages": {id: [messages dans l'ordre de l'API]}}."""
        return self.admin("/_admin/truth")  # type: ignore[return-value]

    def append(self, key: str, count: int = 1, same_timestamp: bool = False, customer: bool | None = None) -> dict:
        """Ajoute des messages ; {"conversation": objet à jour, "messages": [ajoutés]}."""
        body = {"id": key, "count": count, "same_timestamp": same_timestamp, "customer": customer}
        return self.admin("/_admin/messages", method="POST", json=body)  # type: ignore[return-value]

    def create(self, count: int = 1, messages: int = 0) -> list[dict]:
        """Crée des conversations (chacune avec `messages` messages) ; leurs objets."""
        return self.admin("/_admin/conversations", method="POST", json={"count": count, "messages": messages})  # type: ignore[return-value]

    def delete(self, key: str) -> None:
        self.admin("/_admin/delete", method="POST", json={"id": key})

    def stats(self) -> dict:
        """Compteurs : calls, by_kind, by_status (dont « 429 »), calls_by_session."""
        return self.admin("/_admin/stats")  # type: ignore[return-value]

    def reset_stats(self) -> dict:
        return self.admin("/_admin/stats/reset", method="POST")  # type: ignore[return-value]

    def faults(self, **options: object) -> dict:
        """Change les pannes à chaud (mêmes options que le bac à sable Crisp)."""
        return self.admin("/_admin/faults", method="POST", json=options)  # type: ignore[return-value]

    def restore_faults(self) -> dict:
        return self.admin("/_admin/faults/reset", method="POST")  # type: ignore[return-value]

    def drift(self, every: int, contexts: int = 1) -> dict:
        """wanzo : dérive des pages toutes les `every` listes (0 = arrêt)."""
        return self.admin("/_admin/drift", method="POST", json={"every": every, "contexts": contexts})  # type: ignore[return-value]


def start_standin(system: str, **options: object) -> StandinProcess:
    """Démarre une doublure et attend qu'elle réponde."""
    return StandinProcess(system, **options).start()
