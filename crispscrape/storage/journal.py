"""Le journal des événements en direct : ``{DATA}/evenements/AAAA-MM-JJ.jsonl`` (issue 22).

Journal d'abord : chaque événement reçu (RTM ou web hook) est AJOUTÉ ici, ligne complète +
fsync, AVANT d'être appliqué. Après un arrêt brutal, ce qui suit le dernier événement
appliqué est rejoué ; l'application, idempotente, donne les mêmes fichiers. Une ligne :
``{"seq", "received", "source", "event", "data"}`` ; ``seq`` croît d'un fichier du jour au
suivant. Les fichiers tout appliqués de plus de ``keep_days`` jours sont retirés.

``journal.state.json`` : ``applied``, conversations et profils à relire (``unsettled``,
``profiles`` : ``since``, heure du dernier événement ; ``oldest``, plus ancien message écrit
d'après un événement), ``connection`` (pour ``scrapy status``) et ``saved_at`` (début d'une
coupure si le direct s'arrête). Détails : docs/direct.md.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path

from crispscrape.storage.files import StateFile, append_lines, dumps_line
from crispscrape.storage.jsonl import read_lines

DAY_FILE_SUFFIX = ".jsonl"
STATE_NAME = "journal.state.json"


def _day_files(directory: Path) -> list[Path]:
    """Les fichiers du journal, du plus ancien au plus récent (leur nom est leur date)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == DAY_FILE_SUFFIX
                  and len(p.stem) == 10 and p.is_file())


class EventJournal:
    """Ajout (l'araignée ``live`` seule, sous le verrou du site) et relecture du journal."""

    def __init__(self, directory: Path, keep_days: float = 30.0):
        self.directory = Path(directory)
        self.keep_days = keep_days
        self.state = StateFile(self.directory / STATE_NAME, "État du journal des événements")
        self.last_seq = 0
        self.applied = 0
        self.unsettled: dict[str, dict] = {}
        # Profils à relire (people_id -> since, email) après un événement people:profile:*.
        self.profiles: dict[str, dict] = {}
        self.saved_at: float | None = None
        # État de la connexion, écrit avec le reste (posé par le pipeline du journal).
        self.connection: dict | None = None
        self.closed = False

    def open(self, reset: bool = False) -> None:
        """Lit l'état et retrouve le dernier numéro écrit (dernière ligne lisible) ; le
        répertoire est créé s'il manque (``reset`` : sans effet, le journal n'est jamais
        oublié, seulement élagué)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.state.load()
        self.applied = int(data.get("applied", 0))
        self.unsettled, self.profiles = (
            {k: v for k, v in found.items() if isinstance(v, dict)}
            if isinstance(found := data.get(name), dict) else {}
            for name in ("unsettled", "profiles"))
        saved_at = data.get("saved_at")
        self.saved_at = float(saved_at) if isinstance(saved_at, (int, float)) else None
        self.connection = found if isinstance(found := data.get("connection"), dict) else None
        # Tous les fichiers, pas seulement le dernier par son nom : une horloge qui recule
        # écrirait dans un jour plus ancien, et un numéro ne doit jamais resservir.
        for path in _day_files(self.directory):
            for line in read_lines(path, "Journal des événements"):
                if isinstance(line.obj, dict) and isinstance(line.obj.get("seq"), int):
                    self.last_seq = max(self.last_seq, line.obj["seq"])
        self.last_seq = max(self.last_seq, self.applied)

    def append(self, source: str, event: str, data: dict,
               now: datetime.datetime | None = None) -> int:
        """Journalise un événement (fsync) ; rend son numéro, à passer à ``mark_applied``."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        self.last_seq += 1
        record = {"seq": self.last_seq, "received": now.isoformat(timespec="milliseconds"),
                  "source": source, "event": event, "data": data}
        append_lines(self.directory / f"{now:%Y-%m-%d}{DAY_FILE_SUFFIX}", [dumps_line(record)])
        return self.last_seq

    def pending(self) -> Iterator[dict]:
        """Les événements journalisés mais pas encore appliqués, dans l'ordre."""
        for path in _day_files(self.directory):
            for line in read_lines(path, "Journal des événements"):
                record = line.obj
                if isinstance(record, dict) and isinstance(record.get("seq"), int) \
                        and record["seq"] > self.applied:
                    yield record

    def mark_applied(self, seq: int, unsettled: dict | None = None, now: float = 0.0,
                     profiles: dict | None = None, save: bool = True) -> None:
        """L'événement ``seq`` (et tous ceux d'avant) est appliqué ; ``unsettled`` :
        conversations qu'il laisse à relire (session_id -> plus ancien horodatage écrit, ou
        None) ; ``profiles`` : profils à relire (people_id -> e-mail ou None). Une seule
        écriture atomique pour tout."""
        for people_id, email in (profiles or {}).items():
            entry = self.profiles.setdefault(people_id, {"email": None})
            entry["since"] = now
            entry["email"] = email or entry["email"]
        for session_id, oldest in (unsettled or {}).items():
            entry = self.unsettled.setdefault(session_id, {"oldest": None})
            entry["since"] = now
            if oldest is not None and (entry["oldest"] is None or oldest < entry["oldest"]):
                entry["oldest"] = oldest
        self.applied = max(self.applied, seq)
        if save:
            self.save(now)

    def settled(self, key: str, started: float, now: float, profile: bool = False) -> None:
        """Relue par REST depuis ``started`` (une conversation, ou un profil par son
        people_id) : réglée, sauf si un événement est arrivé après."""
        waiting = self.profiles if profile else self.unsettled
        entry = waiting.get(key)
        if entry is not None and entry.get("since", 0) <= started:
            del waiting[key]
            self.save(now)

    def save(self, now: float) -> None:
        data = self.state.data
        data.update(applied=self.applied, unsettled=self.unsettled, profiles=self.profiles,
                    saved_at=now)
        if self.connection is not None:
            data["connection"] = self.connection
        self.saved_at = now
        self.state.save()

    def close(self) -> None:
        # Plus rien ne s'applique après (l'araignée le lit : les pipelines se ferment).
        self.closed = True
        self.prune()

    def prune(self, today: datetime.date | None = None) -> list[Path]:
        """Retire les fichiers entièrement appliqués de plus de ``keep_days`` jours."""
        today = today or datetime.datetime.now(datetime.timezone.utc).date()
        removed = []
        for path in _day_files(self.directory):
            try:
                day = datetime.date.fromisoformat(path.stem)
            except ValueError:
                continue
            if (today - day).days <= self.keep_days:
                continue
            numbers = [line.obj.get("seq", 0) for line in read_lines(path, "Journal")
                       if isinstance(line.obj, dict)]
            if all(isinstance(n, int) and n <= self.applied for n in numbers):
                os.unlink(path)
                removed.append(path)
        return removed
