"""The event log: /api/system, /api/events and delivery-once of HTTP-kind events."""

from __future__ import annotations

import json

from aomi.sessions.model import INLINE_CALL, SYSTEM_ERROR
from tests.support.harness import Harness, headers, new_id


async def _system(h: Harness, sid: str, message: str) -> dict[str, object]:
    r = await h.client.post("/api/system", params={"message": message}, headers=headers(sid))
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_system_messages_become_events_and_messages(server: Harness) -> None:
    sid = new_id()
    await server.chat(sid, "hi")
    await server.wait_idle(sid)
    notice = await _system(server, sid, "Wallet connected")
    res = notice["res"]
    assert isinstance(res, dict)
    assert (res["sender"], res["content"], res["tool_result"]) == ("system", "Wallet connected", None)
    callback = {"type": "price_alert", "symbol": "ETH"}
    await _system(server, sid, json.dumps(callback))
    r = await server.client.post("/api/system", json={"message": "[1, 2]"}, headers=headers(sid))
    assert r.status_code == 200

    events = (await server.client.get("/api/events", headers=headers(sid))).json()
    assert events == [
        {"SystemNotice": "Wallet connected"},
        {"AsyncCallback": callback},
        {"AsyncCallback": [1, 2]},
    ]
    last = (await server.client.get("/api/events", params={"count": 1}, headers=headers(sid))).json()
    assert last == [{"AsyncCallback": [1, 2]}]

    state = (await server.state(sid)).json()
    assert [m["sender"] for m in state["messages"]][-3:] == ["system"] * 3
    assert state["system_events"] == []  # SSE kinds never ride in snapshots
    stored = await server.services.manager.store.load(sid)
    assert stored is not None and stored.messages[-3].content == "Wallet connected"


async def test_http_kind_events_are_delivered_once_and_stay_listed(server: Harness) -> None:
    sid = new_id()
    await server.chat(sid, "hi")
    await server.wait_idle(sid)
    s = await server.services.manager.get(sid)
    assert s is not None
    call = {"type": "wallet_tx_request", "to": "0x" + "11" * 20, "value": "0"}
    await server.services.manager.add_event(s, INLINE_CALL, call)
    await server.services.manager.add_event(s, SYSTEM_ERROR, "boom")
    first = (await server.state(sid)).json()
    assert first["system_events"] == [{"InlineCall": call}, {"SystemError": "boom"}]
    assert (await server.state(sid)).json()["system_events"] == []
    server.services.manager.forget(sid)  # from the database too: delivered stays delivered
    assert (await server.state(sid)).json()["system_events"] == []
    events = (await server.client.get("/api/events", headers=headers(sid))).json()
    assert events == [{"InlineCall": call}, {"SystemError": "boom"}]


async def test_a_system_message_creates_an_unknown_session(server: Harness) -> None:
    sid = new_id()
    await _system(server, sid, "wallet connected")
    state = (await server.state(sid)).json()
    assert [(m["sender"], m["content"]) for m in state["messages"]] == [("system", "wallet connected")]
    assert (await server.client.get("/api/events", headers=headers(sid))).json() == [
        {"SystemNotice": "wallet connected"}
    ]
    key = await server.issue_key("mycoindex")
    keyed = await server.client.post("/api/system?message=x&app=mycoindex", headers=headers(new_id()))
    assert keyed.status_code == 401
    ok = await server.client.post("/api/system?message=x&app=mycoindex", headers=headers(new_id(), key))
    assert ok.status_code == 200


async def test_event_and_system_errors(server: Harness) -> None:
    sid = new_id()
    assert (await server.client.get("/api/events", headers=headers(sid))).status_code == 404
    assert (await server.client.get("/api/events")).status_code == 400
    await server.chat(sid, "hi")
    await server.wait_idle(sid)
    assert (await server.client.post("/api/system", headers=headers(sid))).status_code == 400
    assert (await server.client.get("/api/events?count=0", headers=headers(sid))).status_code == 400
    big = "x" * (server.settings.max_message_bytes + 1)
    assert (
        await server.client.post("/api/system", json={"message": big}, headers=headers(sid))
    ).status_code == 413
    key = await server.issue_key("other")
    other_key = await server.client.get("/api/events", params={"app": "other"}, headers=headers(sid, key))
    assert other_key.status_code == 200  # a session of the public default App: any caller may read it
