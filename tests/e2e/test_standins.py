"""Fidélité des doublures ninja et wanzo (issue 11), en HTTP réel contre des sous-processus."""

from __future__ import annotations


def test_ninja_fixture_serves_truth(ninja_sandbox):
    status, _, body = ninja_sandbox.get("/conversation/", {"limit": 1000})
    assert status == 200
    truth = ninja_sandbox.truth()
    keys = sorted(item["uuid"] for item in body["items"])
    assert keys == sorted(item["uuid"] for item in truth["conversations"])
    assert body["count"] == len(keys) == 30


def test_wanzo_fixture_serves_truth(wanzo_sandbox):
    status, _, body = wanzo_sandbox.get("/chat/contexts", {"limit": 100})
    assert status == 200
    assert body["contexts"] == wanzo_sandbox.truth()["conversations"]
    assert body["total"] == 30
