"""Exportateur séquentiel de référence, écrit d'après la spécification de mess.py.

C'est l'approche des scripts d'origine de l'utilisateur, et la base de comparaison du banc
de vitesse : urllib, UNE requête à la fois (nouvelle connexion à chaque appel, comme
``urllib.request.urlopen``), pagination par ``timestamp_before`` = plus ancien timestamp du
lot précédent (la lecture littérale de la spécification), arrêt dès qu'un lot ne contient
plus que des messages connus, ajout des nouveaux messages au fichier puis tri du fichier
du plus récent au plus ancien, fichier d'état ``messages.jsonl.state.json`` (next_index).

Il n'est pas destiné à l'utilisateur : il sert d'étalon. Il est volontairement simple et
honnête (pas de ralentissement artificiel) ; il fait même plutôt MOINS d'appels que
l'araignée, car sa pagination stricte ne redemande pas la milliseconde du plus ancien
message (au risque de perdre des messages de même milliseconde à la limite d'un lot).

    CRISP_DATA_DIR=... CRISP_API_URL=... CRISP_IDENTIFIER_PROD=... CRISP_KEY_PROD=... \\
    ID_SITE_CRISP=... python -m bench.sequential --nb 100
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

API_URL_DEFAULT = "https://api.crisp.chat/v1"
BATCH_SIZE = 40


def api_headers() -> dict:
    """En-têtes exigés par la spécification (jeton « plugin »)."""
    token = f"{os.environ['CRISP_IDENTIFIER_PROD']}:{os.environ['CRISP_KEY_PROD']}"
    return {
        "Authorization": "Basic " + base64.b64encode(token.encode()).decode(),
        "Content-Type": "application/json",
        "X-Crisp-Tier": "plugin",
    }


def fetch_batch(url: str, headers: dict) -> tuple[int, list]:
    """Un appel à l'API ; sur 429, attend (recul exponentiel) puis recommence."""
    wait = 1.0
    while True:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                status, body = error.code, error.read()
        if status == 429:
            # Quota d'appels atteint : on patiente, puis on réessaie la même page.
            time.sleep(wait)
            wait = min(wait * 2, 60.0)
            continue
        if status not in (200, 206):
            raise RuntimeError(f"réponse HTTP {status} pour {url}")
        return status, json.loads(body)["data"]


def export_conversation(base_url: str, headers: dict, session_id: str, path: Path) -> tuple[int, int, int]:
    """Exporte une conversation ; (messages ajoutés, messages ignorés, appels faits)."""
    known: set[int] = set()
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            known = {json.loads(line)["fingerprint"] for line in handle if line.strip()}
    url = f"{base_url}/conversation/{session_id}/messages/"
    before = None
    added: list[dict] = []
    ignored = calls = 0
    while True:
        status, batch = fetch_batch(url if before is None else f"{url}?timestamp_before={before}",
                                    headers)
        calls += 1
        fresh = [m for m in batch if m["fingerprint"] not in known]
        ignored += len(batch) - len(fresh)
        known.update(m["fingerprint"] for m in fresh)
        added.extend(fresh)
        # Fin : dernier lot (200), lot court, ou plus rien de nouveau.
        if status == 200 or len(batch) < BATCH_SIZE or not fresh:
            break
        before = min(m["timestamp"] for m in batch)
    if added or not path.exists():
        # Ajout en fin de fichier, puis tri du plus récent au plus ancien (spécification).
        with open(path, "a", encoding="utf-8") as handle:
            for message in added:
                handle.write(json.dumps(message, ensure_ascii=False) + "\n")
        with open(path, encoding="utf-8") as handle:
            messages = [json.loads(line) for line in handle if line.strip()]
        messages.sort(key=lambda m: (m["timestamp"], m["fingerprint"]), reverse=True)
        with open(path, "w", encoding="utf-8") as handle:
            for message in messages:
                handle.write(json.dumps(message, ensure_ascii=False) + "\n")
    return len(added), ignored, calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export séquentiel des messages (étalon du banc).")
    parser.add_argument("--nb", type=int, default=50, help="nombre maximal de conversations")
    parser.add_argument("--reset", action="store_true", help="repartir de la première conversation")
    args = parser.parse_args(argv)

    data_dir = Path(os.environ.get("CRISP_DATA_DIR", "."))
    base_url = (os.environ.get("CRISP_API_URL") or API_URL_DEFAULT).rstrip("/")
    base_url += f"/website/{os.environ['ID_SITE_CRISP']}"
    headers = api_headers()
    conversations_path = data_dir / "conversations" / "conversations.jsonl"
    directory = data_dir / "conversations" / "messages"
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / "messages.jsonl.state.json"

    with open(conversations_path, encoding="utf-8") as handle:
        session_ids = [json.loads(line)["session_id"] for line in handle if line.strip()]
    start = 0
    if state_path.exists() and not args.reset:
        start = json.loads(state_path.read_text()).get("next_index", 0) % max(1, len(session_ids))

    done = total_added = total_ignored = total_calls = 0
    index = start
    while done < min(args.nb, len(session_ids)):
        session_id = session_ids[index]
        added, ignored, calls = export_conversation(base_url, headers, session_id,
                                                    directory / f"{session_id}.jsonl")
        total_added += added
        total_ignored += ignored
        total_calls += calls
        done += 1
        index = (index + 1) % len(session_ids)
        state_path.write_text(json.dumps({"next_index": index}))
        print(f"{session_id} : {added} message(s) exporté(s), {ignored} ignoré(s).")
    files = sum(1 for _ in directory.glob("*.jsonl"))
    print(f"Récapitulatif : {done} conversation(s) traitée(s), {total_added} message(s) "
          f"exporté(s), {total_calls} appel(s) ; {files} fichier(s) .jsonl.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
