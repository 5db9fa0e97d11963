"""Un compte exporté fabriqué directement en fichiers JSONL, sans crawl (banc de la base d'analyse).

Mêmes fichiers et même disposition que les exports (conversations.jsonl trié par activité
décroissante, un fichier de messages par conversation du plus récent au plus ancien,
utilisateurs.jsonl trié par e-mail), tirés du jeu de données du bac à sable : le compte est
celui qu'un export complet du bac à sable aurait écrit, en quelques secondes au lieu de
minutes d'appels.
"""

from __future__ import annotations

import os
from pathlib import Path

from crispsandbox.dataset import Dataset
from crispscrape.model import message_order
from crispscrape.storage.files import dumps_line

# Messages moyens par conversation du jeu de données (mesuré : ~18,5) ; sert à viser un total.
MEAN_MESSAGES = 18


def write_account(data_dir: Path, conversations: int, seed: int = 1) -> int:
    """Écrit le compte sous ``data_dir`` ; renvoie le nombre de messages écrits."""
    dataset = Dataset(seed=seed, conversations=conversations)
    root = Path(data_dir) / "conversations"
    folder = root / "messages"
    os.makedirs(folder, exist_ok=True)
    listed = dataset.conversations()
    emails = set()
    total = 0
    with open(root / "conversations.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(dumps_line(conversation) for conversation in listed)
    for conversation in listed:
        session_id = conversation["session_id"]
        messages = sorted(dataset.messages(session_id), key=message_order, reverse=True)
        total += len(messages)
        with open(folder / f"{session_id}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(dumps_line(message) for message in messages)
        email = conversation.get("meta", {}).get("email")
        if email:
            emails.add(email.casefold())
    profiles = [profile for profile in dataset.profiles() if profile["email"].casefold() in emails]
    profiles.sort(key=lambda profile: profile["email"].casefold())
    os.makedirs(Path(data_dir) / "utilisateurs", exist_ok=True)
    with open(Path(data_dir) / "utilisateurs" / "utilisateurs.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(dumps_line(profile) for profile in profiles)
    return total
