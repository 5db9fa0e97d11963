"""Ce que le bac à sable sert comme pièces jointes, d'après sa vérité : de quoi attendre la
dernière ligne exacte d'un compte complet (certaines pièces répondent 404, pour de vrai)."""

from __future__ import annotations

from crispsandbox.media import media_kind
from crispscrape.file_refs import FILE_TYPES


def file_truth(sandbox, seed: int | None = None) -> dict[tuple[str, int], str]:
    """(session_id, fingerprint) -> sorte de fichier servie par le bac à sable (missing = 404)."""
    seed = sandbox.admin("/_admin/config")["seed"] if seed is None else seed
    kinds = {}
    for conversation in sandbox.admin("/_admin/truth/conversations"):
        session_id = conversation["session_id"]
        for message in sandbox.admin(f"/_admin/truth/messages/{session_id}"):
            if message["type"] in FILE_TYPES:
                token = message["content"]["url"].split("/media/", 1)[1].split("/", 1)[0]
                kinds[(session_id, message["fingerprint"])] = media_kind(seed, token)
    return kinds


def complete_end(sandbox) -> str:
    """La ligne « Fin : » d'un compte du bac à sable exporté en entier en une exécution."""
    missing = sum(1 for kind in file_truth(sandbox).values() if kind == "missing")
    if not missing:
        return "Fin : compte complet et à jour."
    files = "pièce jointe" if missing == 1 else "pièces jointes"
    return f"Fin : compte complet, {missing} {files} en échec (retentées au prochain lancement)."
