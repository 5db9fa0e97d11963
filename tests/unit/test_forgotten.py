"""Registre des oublis (storage/forgotten.py) : empreintes normalisées, jamais la valeur,
et reconnaissance d'une conversation oubliée par son session_id, son people_id ou son e-mail ;
ce qu'une demande désigne et efface (crispscrape/forget/)."""

from __future__ import annotations

import hashlib
import json

import pytest

from crispscrape.forget.targets import Targets
from crispscrape.storage.forgotten import ForgetLog, digest


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def conversation(session_id="session_a", people_id="p-1", email="Someone@Example.com"):
    return {"session_id": session_id, "people_id": people_id, "meta": {"email": email}}


def test_digest_normalises_emails_by_trimming_and_lowercasing():
    expected = sha("josé.müller+crisp@exämple.fr")
    assert digest("email", "  JOSÉ.Müller+crisp@EXÄMPLE.fr \t") == expected
    assert digest("email", "josé.müller+crisp@exämple.fr") == expected


def test_digest_keeps_identifiers_as_given_apart_from_surrounding_spaces():
    assert digest("session", " session_AbC ") == sha("session_AbC")
    assert digest("people", "P-1") == sha("P-1") != digest("people", "p-1")


def test_digest_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        digest("phone", "+33 6 00 00 00 00")


def test_the_log_stores_digests_never_the_value(tmp_path):
    path = tmp_path / "oublis.jsonl"
    log = ForgetLog(path)
    assert log.append("email", ["Client@Example.COM ", "client@example.com"]) == 1
    assert log.append("session", ["session_secret-1"]) == 1
    text = path.read_text(encoding="utf-8")
    assert "client" not in text.lower() and "session_secret" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert [(r["kind"], r["sha256"]) for r in records] == [
        ("email", sha("client@example.com")), ("session", sha("session_secret-1"))]
    assert all(r["when"].endswith("+00:00") for r in records)
    assert ForgetLog(path).digests() == {sha("client@example.com"), sha("session_secret-1")}


def test_appending_a_value_already_forgotten_adds_nothing(tmp_path):
    path = tmp_path / "oublis.jsonl"
    ForgetLog(path).append("email", ["a@example.com"])
    before = path.read_bytes()
    assert ForgetLog(path).append("email", [" A@EXAMPLE.COM"]) == 0
    assert path.read_bytes() == before


def test_a_line_cut_by_a_crash_does_not_swallow_the_next_one(tmp_path):
    path = tmp_path / "oublis.jsonl"
    path.write_text('{"kind": "email", "sha2', encoding="utf-8")
    ForgetLog(path).append("people", ["p-9"])
    assert ForgetLog(path).digests() == {sha("p-9")}
    assert path.read_text(encoding="utf-8").splitlines()[1].startswith('{"kind": "people"')


@pytest.mark.parametrize("kind, value", [
    ("session", "session_a"), ("people", "p-1"), ("email", " someone@EXAMPLE.com ")])
def test_matches_a_conversation_by_any_of_its_keys(tmp_path, kind, value):
    log = ForgetLog(tmp_path / "oublis.jsonl")
    log.append(kind, [value])
    assert log.matches(conversation())
    # L'enveloppe {"data": {...}} des anciens exports est comprise.
    assert log.matches({"data": conversation()})
    assert not log.matches(conversation("session_b", "p-2", "other@example.com"))


def test_matches_is_false_without_a_log_and_for_objects_that_are_not_conversations(tmp_path):
    log = ForgetLog(tmp_path / "absent.jsonl")
    assert not log.matches(conversation())
    assert not (tmp_path / "absent.jsonl").exists()
    log = ForgetLog(tmp_path / "oublis.jsonl")
    log.append("email", ["someone@example.com"])
    assert not log.matches(None)
    assert not log.matches(["someone@example.com"])
    assert not log.matches({"session_id": "x", "meta": {"email": None}, "people_id": 3})


def test_matches_reads_the_log_once(tmp_path):
    path = tmp_path / "oublis.jsonl"
    ForgetLog(path).append("session", ["session_a"])
    log = ForgetLog(path)
    assert log.matches(conversation())
    path.unlink()
    assert log.matches(conversation())  # pur : aucune lecture après la première


def test_kinds_do_not_mix(tmp_path):
    log = ForgetLog(tmp_path / "oublis.jsonl")
    log.append("people", ["session_a"])
    assert not log.matches(conversation(people_id="p-1"))


def test_targets_match_conversations_profiles_and_cut_lines():
    targets = Targets()
    targets.add("email", " Someone@Example.com")
    targets.add("people", "p-7")
    assert targets.conversation_matches(conversation(people_id="p-0"))
    assert targets.conversation_matches(conversation(email="x@y.z", people_id="p-7"))
    assert not targets.conversation_matches(conversation(email="x@y.z", people_id="p-0"))
    assert targets.profile_matches({"email": "SOMEONE@example.com", "people_id": "q"})
    assert targets.profile_matches({"data": {"email": "n@o.p", "people_id": "p-7"}})
    assert not targets.profile_matches({"email": "n@o.p", "people_id": "q"})
    assert targets.mentioned_in('{"people_id": "x", "meta": {"email": "someONE@example.COM')
    assert not targets.mentioned_in('{"people_id": "p-8"')


# --- Ce que la demande trouve et efface (crispscrape/forget/) -----------------------------------
def write_lines(path, objects):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects),
                    encoding="utf-8")


def test_find_completes_the_person_by_one_step_and_never_from_a_session(tmp_path):
    from crispscrape.forget.traces import find
    listing = tmp_path / "conversations" / "conversations.jsonl"
    write_lines(listing, [conversation("s1", "p-1", "A@x.fr"), conversation("s2", "p-1", ""),
                          conversation("s3", "p-3", "other@x.fr"),
                          {"data": conversation("s4", None, " a@X.FR")}])
    write_lines(tmp_path / "utilisateurs" / "utilisateurs.jsonl",
                [{"people_id": "p-1", "email": "a@x.fr"}, {"people_id": "p-3", "email": "o@x.fr"}])
    request = Targets()
    request.add("email", "a@x.fr")
    found, ids = find(tmp_path, request)
    assert (found.emails, found.people, ids) == ({"a@x.fr"}, {"p-1"}, {"s1", "s2", "s4"})
    request = Targets()
    request.add("session", "s3")
    found, ids = find(tmp_path, request)
    assert (found.emails, found.people, ids) == (set(), set(), {"s3"})


def test_person_traces_leave_the_others_and_count_before_erasing(tmp_path):
    from crispscrape.forget.traces import person_traces
    users = tmp_path / "utilisateurs" / "utilisateurs.jsonl"
    write_lines(users, [{"people_id": "p-1", "email": "A@x.fr"}, {"people_id": "p-2",
                                                                  "email": "b@x.fr"}])
    with open(users, "a", encoding="utf-8") as handle:
        handle.write('{"people_id": "p-9", "email": "a@X.fr", "pers')  # coupée
    state = users.with_name("utilisateurs.jsonl.state.json")
    state.write_text(json.dumps({"format": 1, "not_found": ["a@x.fr", "c@x.fr"],
                                 "aliases": {"old@x.fr": "a@x.fr", "d@x.fr": "b@x.fr"}}))
    targets = Targets()
    targets.add("email", "a@x.fr")
    before = users.read_bytes(), state.read_bytes()
    planned = person_traces(tmp_path, targets, set(), apply=False)
    assert (users.read_bytes(), state.read_bytes()) == before
    done = person_traces(tmp_path, targets, set(), apply=True)
    assert done.counts == planned.counts == {"e-mails de l'état des utilisateurs": 2,
                                             "profils": 2}
    assert users.read_text(encoding="utf-8") == '{"people_id": "p-2", "email": "b@x.fr"}\n'
    kept = json.loads(state.read_text())
    assert (kept["not_found"], kept["aliases"]) == (["c@x.fr"], {"d@x.fr": "b@x.fr"})


def test_conversation_traces_include_unreadable_lines_set_aside_and_the_census_log(tmp_path):
    from crispscrape.forget.erase import conversations_traces
    messages = tmp_path / "conversations" / "messages"
    write_lines(messages / "s1.jsonl", [{"fingerprint": 1}])
    (messages / "s1.jsonl.lignes-illisibles").write_text("{\"fing\n", encoding="utf-8")
    census = tmp_path / "conversations" / "recensement.jsonl"
    census.write_text('["s1", "s2"]\n["s1"]\n["s3"]\n', encoding="utf-8")
    write_lines(tmp_path / "conversations" / "conversations.jsonl",
                [conversation("s1"), conversation("s2")])
    done = conversations_traces(tmp_path, {"s1"}, apply=True)
    assert done.counts == {"fichiers de messages": 2, "entrées du recensement en cours": 2,
                           "conversations": 1}
    assert not any(messages.iterdir())
    assert census.read_text(encoding="utf-8") == '["s2"]\n["s3"]\n'
    assert done.paths[-1] == "conversations/conversations.jsonl"  # la liste en dernier
