"""``scrapy forget`` (issue 21, demande d'effacement) : crawls réels contre le bac à sable.

Un compte exporté une fois par module (``account`` : pièces jointes comprises) et sa base
d'analyse (``scrapy report``) ; chaque test en reçoit une copie. La personne oubliée est
choisie dans l'export : plusieurs conversations, toutes avec des pièces jointes, et une
fiche. Après l'oubli, une recherche d'octets dans CHAQUE fichier du répertoire de données
(JSONL, états, index, pièces jointes, Parquet, DuckDB, rapport HTML) ne trouve plus ni son
e-mail (dans chaque casse écrite par l'export), ni ses session_id hors de suppressions.jsonl,
ni l'empreinte (fingerprint) ou le texte de ses messages.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.test_removals import build_report
from tests.support.crawling import ROOT, communicate_or_kill, read_jsonl, run_crawl, start_crawl
from tests.support.messages_support import calls_by_session
from tests.support.sandbox_process import start_sandbox

NOTHING_FOUND = "Rien trouvé : aucune trace de ces valeurs sous"
LOCKED = "Un autre export est déjà en cours pour ce site"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    sandbox = start_sandbox(seed=1, conversations=20)
    try:
        data_dir = tmp_path_factory.mktemp("forget") / "data"
        result = run_crawl("account", data_dir, sandbox.env(), timeout=300)
        assert result.returncode == 0, result.log[-3000:]
        build_report(data_dir, sandbox.env())
        yield sandbox, data_dir
    finally:
        sandbox.stop()


@dataclass
class Person:
    email: str                    # en minuscules (casefold)
    spellings: set[str]           # chaque casse écrite par l'export, et les minuscules
    people_id: str
    sessions: set[str]
    fingerprints: set[int]
    texts: set[str]               # textes de ses messages qu'aucune autre conversation n'a


@dataclass
class Account:
    sandbox: object
    data_dir: Path
    person: Person
    others: list[str]


@pytest.fixture
def account(exported, tmp_path) -> Account:
    sandbox, source = exported
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    person, others = pick_person(data_dir)
    return Account(sandbox, data_dir, person, others)


def pick_person(data_dir: Path) -> tuple[Person, list[str]]:
    """La personne aux conversations les plus nombreuses, toutes avec des pièces jointes sur
    disque, et qui a une fiche ; échoue bruyamment si le bac à sable n'en a plus."""
    conversations = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    with_files = {e["session_id"] for e in read_jsonl(data_dir / "conversations" /
                                                      "fichiers.jsonl") if e["status"] == "ok"}
    profiles = {p["email"].casefold(): p for p in read_jsonl(data_dir / "utilisateurs" /
                                                             "utilisateurs.jsonl")}
    groups: dict[str, list[dict]] = {}
    for conversation in conversations:
        email = (conversation.get("meta") or {}).get("email") or ""
        groups.setdefault(email.strip().casefold(), []).append(conversation)
    written = {path: path.read_bytes().decode("utf-8", "ignore") for path in files_of(data_dir)}

    def spellings_of(email: str) -> set[str]:
        return {email} | {m.group(0) for text in written.values()
                          for m in re.finditer(re.escape(email), text, re.IGNORECASE)}

    # Plusieurs casses écrites par l'export : la normalisation est mise à l'épreuve.
    candidates = sorted((len(group), email) for email, group in groups.items()
                        if email in profiles and len(group) >= 2
                        and all(c["session_id"] in with_files for c in group)
                        and len(spellings_of(email)) >= 3)
    assert candidates, "graine 1, 20 conversations : plus aucune personne à plusieurs " \
                       "conversations avec pièces jointes, fiche et casses diverses ; changez " \
                       "la graine du test"
    email = candidates[-1][1]
    people_id = profiles[email]["people_id"]
    mine = [c for c in conversations if c["meta"].get("email", "").strip().casefold() == email
            or c.get("people_id") == people_id]
    sessions = {c["session_id"] for c in mine}
    assert len(sessions) >= 2
    others = [c["session_id"] for c in conversations if c["session_id"] not in sessions]
    spellings = spellings_of(email)
    messages = [m for s in sessions for m in read_jsonl(messages_file(data_dir, s))]
    rest = b"".join(messages_file(data_dir, s).read_bytes() for s in others) + b"".join(
        (json.dumps(c, ensure_ascii=False)).encode() for c in conversations
        if c["session_id"] in others)
    texts = {m["content"] for m in messages if isinstance(m.get("content"), str)
             and len(m["content"]) >= 8 and m["content"].encode() not in rest
             and escaped(m["content"]) not in rest}
    texts |= {m["content"]["url"] for m in messages if isinstance(m.get("content"), dict)
              and "url" in m["content"]}
    assert len(texts) >= 3, texts
    fingerprints = {m["fingerprint"] for m in messages}
    assert not fingerprint_pattern(fingerprints).search(rest)
    return Person(email, spellings, people_id, sessions, fingerprints, texts), others


def messages_file(data_dir: Path, session_id: str) -> Path:
    return data_dir / "conversations" / "messages" / f"{session_id}.jsonl"


def files_of(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file())


def escaped(text: str) -> bytes:
    return json.dumps(text, ensure_ascii=False)[1:-1].encode()


def fingerprint_pattern(fingerprints: set[int]) -> re.Pattern:
    alternatives = "|".join(str(f) for f in sorted(fingerprints))
    return re.compile(rb'"fingerprint": ?(?:' + alternatives.encode() + rb")(?![0-9])")


def traces(data_dir: Path, person: Person) -> list[str]:
    """Chaque trace de la personne qui reste sous le répertoire de données, en clair."""
    found = []
    pattern = fingerprint_pattern(person.fingerprints)
    for path in files_of(data_dir):
        name, content = str(path.relative_to(data_dir)), path.read_bytes()
        found += [f"{name} : e-mail {s!r}" for s in person.spellings if s.encode() in content]
        if name != "suppressions.jsonl":
            found += [f"{name} : {s}" for s in person.sessions if s.encode() in content]
        if pattern.search(content):
            found.append(f"{name} : fingerprint")
        found += [f"{name} : texte {t[:30]!r}" for t in person.texts
                  if t.encode() in content or escaped(t) in content]
        if person.people_id.encode() in content:
            found.append(f"{name} : people_id")
    return found


def tree_digest(data_dir: Path) -> str:
    """Empreinte de l'arbre entier : chaque chemin (fichiers et répertoires) et ses octets."""
    digest = hashlib.sha256()
    for path in sorted(data_dir.rglob("*")):
        digest.update(str(path.relative_to(data_dir)).encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def others_snapshot(data_dir: Path, others: list[str]) -> dict:
    """Octets de ce qui appartient aux autres conversations : fichiers de messages, pièces
    jointes, lignes de la liste et de l'index."""
    snap: dict = {}
    for session_id in others:
        snap[session_id] = messages_file(data_dir, session_id).read_bytes()
        folder = data_dir / "conversations" / "fichiers" / session_id
        if folder.is_dir():
            snap[f"{session_id}/fichiers"] = {p.name: p.read_bytes() for p in folder.iterdir()}
    for name in ("conversations.jsonl", "fichiers.jsonl"):
        lines = (data_dir / "conversations" / name).read_text(encoding="utf-8").splitlines()
        snap[name] = [line for line in lines if json.loads(line)["session_id"] in others]
    return snap


def forget_env(data_dir: Path) -> dict:
    """Sans aucun identifiant Crisp : la commande n'en a pas besoin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISP_", "ID_SITE_CRISP"))}
    return {**env, "CRISP_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def forget_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scrapy", "forget", *args]


def forget(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(forget_command(*args), cwd=ROOT, env=forget_env(data_dir),
                          capture_output=True, text=True, timeout=120)


def variant(email: str) -> str:
    """La même adresse, autrement écrite : casse mêlée, espaces autour."""
    return "  " + "".join(c.upper() if i % 2 else c for i, c in enumerate(email)) + " "


def test_forget_an_email_erases_every_trace_and_keeps_everything_else(account):
    data_dir, person = account.data_dir, account.person
    assert traces(data_dir, person)
    assert "analyse/crisp.duckdb" in " ".join(traces(data_dir, person))
    others = others_snapshot(data_dir, account.others)
    account.sandbox.admin("/_admin/stats/reset", method="POST")

    done = forget(data_dir, "--email", variant(person.email))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"  - conversations : {len(person.sessions)}" in out, out
    assert f"  - fichiers de messages : {len(person.sessions)}" in out
    assert f"  - répertoires de pièces jointes : {len(person.sessions)}" in out
    assert "  - profils : 1" in out
    for session_id in person.sessions:
        assert f"  - conversations/fichiers/{session_id}\n" in out
        assert f"  - conversations/messages/{session_id}.jsonl\n" in out
    assert "  - utilisateurs/utilisateurs.jsonl\n" in out
    assert "Base d'analyse reconstruite sans elles" in out
    assert "Fin : oubli terminé." in out
    assert person.email not in out.casefold()  # la console ne répète pas l'adresse

    assert traces(data_dir, person) == []
    assert others_snapshot(data_dir, account.others) == others
    assert not list(data_dir.rglob("*.tmp"))
    # Le registre : l'empreinte, jamais la valeur ; les session_id dans suppressions.jsonl.
    log = (data_dir / "oublis.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in log.splitlines()]
    sha = hashlib.sha256(person.email.encode()).hexdigest()
    assert {"kind": "email", "sha256": sha} in [{k: r[k] for k in ("kind", "sha256")}
                                                 for r in records]
    assert person.email not in log.casefold() and person.people_id not in log
    noted = read_jsonl(data_dir / "suppressions.jsonl")
    assert {r["id"] for r in noted} == person.sessions
    assert {(r["policy"], r["evidence"]) for r in noted} == {("erase", "scrapy forget")}
    # La base d'analyse, reconstruite, garde les autres.
    import duckdb
    connection = duckdb.connect(str(data_dir / "analyse" / "crisp.duckdb"), read_only=True)
    try:
        listed = {row[0] for row in connection.execute(
            "SELECT session_id FROM conversations").fetchall()}
    finally:
        connection.close()
    assert listed == set(account.others)
    assert account.sandbox.admin("/_admin/stats")["calls"] == 0

    # Relancée : déjà oublié, rien n'est écrit, code 0.
    tree = tree_digest(data_dir)
    again = forget(data_dir, "--email", person.email)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Déjà oublié (oublis.jsonl)" in again.stdout
    assert tree_digest(data_dir) == tree


def test_forget_a_person_without_profile_and_a_single_conversation(account):
    """L'e-mail sans fiche (``not_found`` de l'état des utilisateurs) et --session."""
    data_dir = account.data_dir
    state_path = data_dir / "utilisateurs" / "utilisateurs.jsonl.state.json"
    [missing] = json.loads(state_path.read_text())["not_found"]
    single = account.others[0]
    done = forget(data_dir, "--email", missing.upper(), "--session", f" {single} ")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  - e-mails de l'état des utilisateurs : 1" in done.stdout
    assert json.loads(state_path.read_text())["not_found"] == []
    for path in files_of(data_dir):
        content = path.read_bytes().decode("utf-8", "ignore").casefold()
        assert missing.casefold() not in content, path
        if path.name != "suppressions.jsonl":
            assert single not in content, path


def test_dry_run_says_what_would_be_erased_and_changes_nothing(account):
    data_dir, person = account.data_dir, account.person
    before = tree_digest(data_dir)
    done = forget(data_dir, "--email", variant(person.email), "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Essai (--dry-run) : rien n'a été modifié." in done.stdout
    assert "Serait effacé :" in done.stdout
    assert f"  - conversations : {len(person.sessions)}" in done.stdout
    assert "Serait reconstruite" in done.stdout
    assert tree_digest(data_dir) == before
    assert not (data_dir / "oublis.jsonl").exists()


def test_a_kill_at_any_point_is_completed_by_running_the_same_command_again(account, tmp_path):
    data_dir, person = account.data_dir, account.person
    pristine = tmp_path / "pristine"
    shutil.copytree(data_dir, pristine)
    others = others_snapshot(data_dir, account.others)
    command = forget_command("--email", variant(person.email))
    midway, finished = [], False
    delay = 0.2
    while delay < 3 and not finished:
        shutil.rmtree(data_dir)
        shutil.copytree(pristine, data_dir)
        process = subprocess.Popen(command, cwd=ROOT, env=forget_env(data_dir),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate(timeout=60)
        finished = process.returncode == 0
        if not finished:
            assert process.returncode == -signal.SIGKILL, out
            if (data_dir / "oublis.jsonl").exists() and traces(data_dir, person):
                midway.append(delay)
            again = forget(data_dir, "--email", person.email)
            assert again.returncode == 0, (delay, again.stdout + again.stderr)
            assert traces(data_dir, person) == [], delay
            assert others_snapshot(data_dir, account.others) == others, delay
            leftovers = [p for p in data_dir.rglob("*")
                         if p.name.endswith(".tmp") or p.name.startswith(".construction-")]
            assert leftovers == [], (delay, leftovers)
            sha = hashlib.sha256(person.email.encode()).hexdigest()
            assert sha in (data_dir / "oublis.jsonl").read_text()
        delay += 0.03
    assert finished, "la commande n'a jamais fini avant d'être tuée"
    assert midway, "aucun arrêt n'est tombé au milieu de l'effacement"


def test_nothing_matched_exits_2_and_writes_nothing(account):
    before = tree_digest(account.data_dir)
    # Un identifiant hostile ne devient jamais un chemin.
    done = forget(account.data_dir, "--email", "personne.inconnue@example.com",
                  "--session", "session_inconnue", "--session", "../utilisateurs/utilisateurs",
                  "--people", "../../..")
    assert done.returncode == 2, done.stdout + done.stderr
    assert NOTHING_FOUND in done.stdout
    assert tree_digest(account.data_dir) == before


@pytest.mark.parametrize("args, message", [
    ((), "Rien à oublier : donnez au moins --email ADRESSE, --people ID ou --session ID"),
    (("--email", ""), "--email sans valeur"),
    (("--email", "   "), "--email sans valeur"),
    (("--people",), "--people sans valeur"),
    (("--email", "pas-une-adresse"), "n'est pas une adresse e-mail"),
    (("--email", "a@b.c", "--website", "../x"), "invalide : un identifiant de site Crisp"),
    (("--email", "a@b.c", "de-trop"), "Argument inattendu"),
])
def test_bad_arguments_exit_1_and_change_nothing(account, args, message):
    before = tree_digest(account.data_dir)
    done = forget(account.data_dir, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stdout, done.stdout
    assert "Rien n'a été modifié" in done.stdout or "aucun fichier n'a été touché" in done.stdout
    assert tree_digest(account.data_dir) == before


def test_a_missing_data_dir_exits_1(tmp_path):
    done = forget(tmp_path / "absent", "--email", "a@b.c")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Répertoire de données introuvable" in done.stdout
    assert not (tmp_path / "absent").exists()


def test_a_running_export_of_the_same_site_is_never_disturbed(account):
    data_dir, sandbox = account.data_dir, account.sandbox
    # Un vrai export en cours (réponses lentes) tient le verrou du site.
    sandbox.admin("/_admin/stats/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 1500})
    crawl = start_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 100})
    try:
        deadline = time.monotonic() + 60
        while sandbox.admin("/_admin/stats")["calls"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        done = forget(data_dir, "--email", account.person.email)
        assert crawl.poll() is None, "l'export a fini trop tôt pour le test"
    finally:
        sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 0})
        communicate_or_kill(crawl, 180, "crawl messages")
    assert crawl.returncode == 0
    assert done.returncode == 1, done.stdout + done.stderr
    assert LOCKED in done.stdout
    assert not (data_dir / "oublis.jsonl").exists()
    suppressions = data_dir / "suppressions.jsonl"
    assert not suppressions.exists() or "scrapy forget" not in suppressions.read_text()
    assert traces(data_dir, account.person)
    # Le même verrou tenu par un autre processus (flock sur le répertoire du site) : rien
    # ne bouge, pas même en --dry-run.
    before = tree_digest(data_dir)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for extra in ((), ("--dry-run",)):
            done = forget(data_dir, "--email", account.person.email, *extra)
            assert done.returncode == 1, done.stdout + done.stderr
            assert LOCKED in done.stdout
    finally:
        os.close(fd)
    assert tree_digest(data_dir) == before


def test_forgotten_conversations_never_come_back(account):
    """Crisp liste encore les conversations : l'export suivant les saute (forget/skipped),
    sans un appel pour leurs messages."""
    data_dir, person, sandbox = account.data_dir, account.person, account.sandbox
    done = forget(data_dir, "--email", person.email)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")}
    assert person.sessions <= listed  # toujours chez Crisp
    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("account", data_dir, sandbox.env(), timeout=300)
    assert again.returncode == 0, again.log[-3000:]
    assert not person.sessions & set(calls_by_session(sandbox))
    assert traces(data_dir, person) == []
    skipped = [int(n) for n in re.findall(r"'forget/skipped': (\d+)", again.log)]
    assert sum(skipped) >= 1, "statistique forget/skipped absente du journal"
