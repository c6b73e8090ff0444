"""Interop: the official Python SDK (scitrera-aether-client 0.2.3) and our
Rust SDK, talking through our gateway (`aether-gateway --dev`).

Python sync clients run their handlers on a listener thread; async clients
run message handlers as tasks on the event loop, so async tests never block
the loop (peer I/O goes through `asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any, Callable, List

import pytest
import scitrera_aether_client as aether
from scitrera_aether_client import (
    AgentClient,
    AsyncAgentClient,
    AsyncTaskClient,
    AsyncUserClient,
    TaskClient,
    UserClient,
)

from interop_support import WAIT, Inbox, Lifecycle, Record, has, poll_until, uid, wait_until

CHAT, TOOL_CALL, OPAQUE = aether.CHAT, aether.TOOL_CALL, aether.OPAQUE


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def connect_sync(client: Any, gateway: Any) -> Lifecycle:
    """Connects a sync client and waits for its handshake (on_connect fires
    on the first downstream message, the ConnectionAck)."""
    life = Lifecycle()
    life.attach(client)
    client.connect(gateway.target)
    life.wait_connected()
    return life


async def connect_async(client: Any, gateway: Any) -> Lifecycle:
    life = Lifecycle()
    life.attach(client)
    await client.connect(gateway.target)
    await life.await_connected()
    return life


def catch_all(inbox: Inbox) -> Callable[[Any], None]:
    return inbox.handler("all")


def peer_msg(**fields: Any) -> Callable[[Record], bool]:
    def pred(r: Record) -> bool:
        return r.tag == "EVENT" and r.get("kind") == "message" and all(
            r.get(k) == v for k, v in fields.items()
        )

    return pred


# --------------------------------------------------------------------------
# Python agent -> Rust agent (typed + catch-all handlers on the Rust side)
# --------------------------------------------------------------------------


def test_python_sync_agent_to_rust_agent_typed_and_catch_all(gateway, rust_peer, ws):
    impl, spec = uid("rimpl"), uid("r")
    peer = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", spec)
    rust_topic = f"ag::{ws}::{impl}::{spec}"
    assert peer.identity == rust_topic

    inbox = Inbox()
    py = AgentClient(ws, "py", "sync-a")
    py.on_chat_message = inbox.handler("chat")
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        # OPAQUE first: the Rust dispatcher serves messages in order, so by
        # the time the CHAT's handlers ran an OPAQUE typed dispatch would show.
        py.send_message_to_agent(ws, impl, spec, b"raw-bytes", OPAQUE)
        py.send_message_to_agent(ws, impl, spec, b"hello rust", CHAT)

        # Both Rust handlers replied to the CHAT; only the catch-all to OPAQUE.
        typed = inbox.wait_for(has("all", "typed:hello rust"), what="typed reply")[0]
        everything = inbox.wait_for(has("all", "all:hello rust"), what="catch-all reply")[0]
        opaque = inbox.wait_for(has("all", "all:raw-bytes"), what="catch-all reply to OPAQUE")[0]
        for got in (typed, everything):
            assert got.source == rust_topic
            assert got.message_type == CHAT
        assert opaque.source == rust_topic
        assert opaque.message_type == OPAQUE
        # CHAT replies also reached the Python typed handler; OPAQUE did not.
        chat_payloads = {g.text for g in inbox.items("chat")}
        assert {"typed:hello rust", "all:hello rust"} <= chat_payloads
        assert "all:raw-bytes" not in chat_payloads

        # What the Rust side saw: both handlers for CHAT, catch-all only for OPAQUE.
        src = f"ag::{ws}::py::sync-a"
        peer.expect(peer_msg(handler="typed", type="CHAT", payload="hello rust", source=src))
        peer.expect(peer_msg(handler="all", type="CHAT", payload="hello rust", source=src))
        peer.expect(peer_msg(handler="all", type="OPAQUE", payload="raw-bytes", source=src))
        assert not peer.records_matching(peer_msg(handler="typed", payload="raw-bytes"))
    finally:
        py.close()


def test_python_async_agent_to_rust_agent_typed_and_catch_all(gateway, rust_peer, ws):
    impl, spec = uid("rimpl"), uid("r")
    peer = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", spec)
    rust_topic = f"ag::{ws}::{impl}::{spec}"

    async def scenario() -> None:
        inbox = Inbox()
        py = AsyncAgentClient(ws, "py", "async-a", tls_enabled=False)

        async def on_chat(msg: Any) -> None:  # a coroutine handler, run as a task
            inbox.handler("chat")(msg)

        py.on_chat_message = on_chat
        py.on_message = catch_all(inbox)
        try:
            await connect_async(py, gateway)
            await py.send_message_to_agent(ws, impl, spec, b"tool-ish", TOOL_CALL)
            await py.send_message_to_agent(ws, impl, spec, b"hello from asyncio", CHAT)

            typed = (await inbox.await_for(has("all", "typed:hello from asyncio")))[0]
            everything = (await inbox.await_for(has("all", "all:hello from asyncio")))[0]
            tool = (await inbox.await_for(has("all", "all:tool-ish")))[0]
            for got in (typed, everything):
                assert (got.source, got.message_type) == (rust_topic, CHAT)
            assert (tool.source, tool.message_type) == (rust_topic, TOOL_CALL)
            await inbox.await_for(has("chat", "typed:hello from asyncio"))
            await inbox.await_for(has("chat", "all:hello from asyncio"))

            src = f"ag::{ws}::py::async-a"
            await asyncio.to_thread(
                peer.expect, peer_msg(handler="typed", type="CHAT", payload="hello from asyncio", source=src)
            )
            await asyncio.to_thread(
                peer.expect, peer_msg(handler="all", type="TOOL_CALL", payload="tool-ish", source=src)
            )
            # TOOL_CALL has no typed handler on the Rust peer (chat only).
            assert not peer.records_matching(peer_msg(handler="typed", payload="tool-ish"))
        finally:
            await py.close()

    asyncio.run(scenario())


# --------------------------------------------------------------------------
# Rust -> Python (typed handlers + catch-all on the Python side)
# --------------------------------------------------------------------------


def _assert_python_typed_routing(inbox: Inbox, src: str) -> None:
    chats = inbox.items("chat")
    tools = inbox.items("tool")
    alls = inbox.items("all")
    assert [(g.text, g.message_type) for g in chats] == [("c-msg", CHAT)]
    assert [(g.text, g.message_type) for g in tools] == [("t-msg", TOOL_CALL)]
    assert sorted((g.text, g.message_type) for g in alls) == sorted(
        [("o-msg", OPAQUE), ("c-msg", CHAT), ("t-msg", TOOL_CALL)]
    )
    assert {g.source for g in chats + tools + alls} == {src}


def test_rust_to_python_sync_typed_and_catch_all(gateway, rust_peer, ws):
    inbox = Inbox()
    py = AgentClient(ws, "py", "sync-rx")
    py.on_chat_message = inbox.handler("chat")
    py.on_tool_call = inbox.handler("tool")
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        spec = uid("sender")
        peer = rust_peer(
            "--role", "sender", "--workspace", ws, "--specifier", spec,
            "--to", f"ag::{ws}::py::sync-rx",
            # OPAQUE first: the sync listener calls handlers inline, in order.
            "--send", "OPAQUE:o-msg", "--send", "CHAT:c-msg", "--send", "TOOL_CALL:t-msg",
        )
        for payload in ("o-msg", "c-msg", "t-msg"):
            peer.expect_event("sent", payload=payload)
        inbox.wait_for(has("all"), count=3, what="three catch-all deliveries")
        # The typed handler of a message runs before its catch-all (inline).
        _assert_python_typed_routing(inbox, f"ag::{ws}::rust-peer::{spec}")
    finally:
        py.close()


def test_rust_to_python_async_typed_and_catch_all(gateway, rust_peer, ws):
    async def scenario() -> None:
        inbox = Inbox()
        py = AsyncAgentClient(ws, "py", "async-rx", tls_enabled=False)

        async def on_tool(msg: Any) -> None:
            inbox.handler("tool")(msg)

        py.on_chat_message = inbox.handler("chat")
        py.on_tool_call = on_tool
        py.on_message = catch_all(inbox)
        try:
            await connect_async(py, gateway)
            spec = uid("sender")
            await asyncio.to_thread(
                rust_peer,
                "--role", "sender", "--workspace", ws, "--specifier", spec,
                "--to", f"ag::{ws}::py::async-rx",
                "--send", "OPAQUE:o-msg", "--send", "CHAT:c-msg", "--send", "TOOL_CALL:t-msg",
            )
            await inbox.await_for(has("all"), count=3, what="three catch-all deliveries")
            # Async handlers are separate tasks: wait for the typed ones too.
            await inbox.await_for(has("chat"))
            await inbox.await_for(has("tool"))
            _assert_python_typed_routing(inbox, f"ag::{ws}::rust-peer::{spec}")
        finally:
            await py.close()

    asyncio.run(scenario())


# --------------------------------------------------------------------------
# User sessions
# --------------------------------------------------------------------------


def test_rust_agent_to_python_user_window(gateway, rust_peer, ws):
    user, window = uid("u"), "win-1"
    inbox = Inbox()
    py = UserClient(user, window)
    py.on_chat_message = inbox.handler("chat")
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        spec = uid("sender")
        rust_peer(
            "--role", "sender", "--workspace", ws, "--specifier", spec,
            "--to", f"us::{user}::{window}", "--send", "CHAT:hi user", "--count", "2",
        )
        got = inbox.wait_for(has("all"), count=2, what="two messages on us::")
        assert sorted(g.text for g in got) == ["hi user-1", "hi user-2"]
        assert all(g.source == f"ag::{ws}::rust-peer::{spec}" and g.message_type == CHAT for g in got)
        inbox.wait_for(has("chat"), count=2, what="typed chat deliveries")
    finally:
        py.close()


def test_python_async_user_to_rust_agent(gateway, rust_peer, ws):
    impl, spec = uid("rimpl"), uid("r")
    peer = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", spec)
    user, window = uid("u"), "w-async"

    async def scenario() -> None:
        inbox = Inbox()
        py = AsyncUserClient(user, window, tls_enabled=False)
        py.on_message = catch_all(inbox)
        try:
            await connect_async(py, gateway)
            await py.send_message_to_agent(ws, impl, spec, b"from user", CHAT)
            replies = await inbox.await_for(
                lambda g: g.text in ("typed:from user", "all:from user"), count=2, what="both replies"
            )
            for g in replies:
                assert (g.source, g.message_type) == (f"ag::{ws}::{impl}::{spec}", CHAT)
            for handler in ("typed", "all"):
                await asyncio.to_thread(
                    peer.expect,
                    peer_msg(handler=handler, type="CHAT", payload="from user", source=f"us::{user}::{window}"),
                )
        finally:
            await py.close()

    asyncio.run(scenario())


def test_python_sync_user_to_rust_agent(gateway, rust_peer, ws):
    impl, spec = uid("rimpl"), uid("r")
    peer = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", spec)
    user, window = uid("u"), "w-sync"
    inbox = Inbox()
    py = UserClient(user, window)
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        py.send_message_to_agent(ws, impl, spec, b"tool from user", TOOL_CALL)
        reply = inbox.wait_for(has("all", "all:tool from user"), what="catch-all reply")[0]
        assert (reply.source, reply.message_type) == (f"ag::{ws}::{impl}::{spec}", TOOL_CALL)
        peer.expect(peer_msg(handler="all", type="TOOL_CALL", source=f"us::{user}::{window}"))
    finally:
        py.close()


# --------------------------------------------------------------------------
# Broadcasts
# --------------------------------------------------------------------------


def test_python_agent_broadcast_reaches_rust_agent(gateway, rust_peer, ws):
    impl = uid("rimpl")
    inside = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", "in")
    other_ws = uid("ws-other")
    outside = rust_peer("--role", "agent", "--workspace", other_ws, "--implementation", impl, "--specifier", "out")

    inbox = Inbox()
    py = AgentClient(ws, "py", "broadcaster")
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        py.send_broadcast_to_agents(ws, b"to every agent", CHAT)
        # A direct message after the broadcast: the gateway routes one
        # sender's sends in order into FIFO mailboxes, so once this arrives a
        # wrongly delivered broadcast would already have been seen.
        py.send_message_to_agent(other_ws, impl, "out", b"marker", OPAQUE)

        src = f"ag::{ws}::py::broadcaster"
        inside.expect(peer_msg(handler="typed", type="CHAT", payload="to every agent", source=src))
        inside.expect(peer_msg(handler="all", type="CHAT", payload="to every agent", source=src))
        replies = inbox.wait_for(
            lambda g: g.text in ("typed:to every agent", "all:to every agent"), count=2, what="replies"
        )
        assert {g.source for g in replies} == {f"ag::{ws}::{impl}::in"}

        outside.expect(peer_msg(handler="all", payload="marker"))
        assert not outside.records_matching(peer_msg(payload="to every agent"))
    finally:
        py.close()


def test_rust_broadcast_to_agents_reaches_python_agents(gateway, rust_peer, ws):
    async def scenario() -> None:
        sync_inbox, async_inbox = Inbox(), Inbox()
        sync_py = AgentClient(ws, "py", "ga-sync")
        sync_py.on_chat_message = sync_inbox.handler("chat")
        sync_py.on_message = catch_all(sync_inbox)
        async_py = AsyncAgentClient(ws, "py", "ga-async", tls_enabled=False)
        async_py.on_chat_message = async_inbox.handler("chat")
        async_py.on_message = catch_all(async_inbox)
        try:
            await asyncio.to_thread(connect_sync, sync_py, gateway)
            await connect_async(async_py, gateway)
            spec = uid("bc")
            await asyncio.to_thread(
                rust_peer, "--role", "broadcast", "--workspace", ws, "--specifier", spec,
                "--to-agents", ws, "--send", "CHAT:ga hello",
            )
            src = f"ag::{ws}::rust-peer::{spec}"
            for inbox in (sync_inbox, async_inbox):
                for handler in ("chat", "all"):
                    got = (await inbox.await_for(has(handler, "ga hello"), what=f"ga:: on {handler}"))[0]
                    assert (got.source, got.message_type) == (src, CHAT)
        finally:
            await async_py.close()
            sync_py.close()

    asyncio.run(scenario())


def _broadcast_until(peer: Any, command: str, received: Callable[[], bool], what: str) -> int:
    """Re-sends a broadcast until it is received or the deadline passes: the
    Python `switch_workspace` has no acknowledgement to wait for."""
    deadline = time.monotonic() + WAIT
    attempts = 0
    while not received():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not received after {attempts} sends")
        attempts += 1
        peer.run(f"{command}-{attempts}")
        poll_until_or_timeout(received, 0.25)
    return attempts


def poll_until_or_timeout(cond: Callable[[], bool], timeout: float) -> bool:
    try:
        poll_until(cond, timeout, "")
        return True
    except AssertionError:
        return False


def test_rust_broadcast_to_users_reaches_python_user_after_switch(gateway, rust_peer, ws):
    user, window = uid("u"), "w-gu"
    inbox = Inbox()
    py = UserClient(user, window)
    py.on_chat_message = inbox.handler("chat")
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        spec = uid("bc")
        peer = rust_peer("--role", "broadcast", "--workspace", ws, "--specifier", spec)
        py.switch_workspace(ws)
        _broadcast_until(
            peer,
            f"broadcast-users {ws} CHAT gu-hello",
            lambda: bool(inbox.items("all")),
            "gu:: broadcast",
        )
        got = inbox.items("all")[0]
        assert got.text.startswith("gu-hello-")
        assert (got.source, got.message_type) == (f"ag::{ws}::rust-peer::{spec}", CHAT)
        inbox.wait_for(has("chat", got.text), what="typed delivery of the broadcast")
    finally:
        py.close()


def test_rust_broadcast_to_users_reaches_python_async_user_after_switch(gateway, rust_peer, ws):
    user, window = uid("u"), "w-gu-async"

    async def scenario() -> None:
        inbox = Inbox()
        py = AsyncUserClient(user, window, tls_enabled=False)
        py.on_message = catch_all(inbox)
        try:
            await connect_async(py, gateway)
            spec = uid("bc")
            peer = await asyncio.to_thread(rust_peer, "--role", "broadcast", "--workspace", ws, "--specifier", spec)
            await py.switch_workspace(ws)
            await asyncio.to_thread(
                _broadcast_until,
                peer,
                f"broadcast-users {ws} EVENT gu-async",
                lambda: bool(inbox.items("all")),
                "gu:: broadcast",
            )
            got = inbox.items("all")[0]
            assert (got.source, got.message_type) == (f"ag::{ws}::rust-peer::{spec}", aether.EVENT)
        finally:
            await py.close()

    asyncio.run(scenario())


def test_python_broadcasts_reach_rust_user_window(gateway, rust_peer, ws):
    user = uid("ru")
    # The Rust window switches, then makes a round trip on the same stream
    # before READY, so the switch is in force when READY is printed.
    peer = rust_peer("--role", "user", "--user", user, "--window", "w9", "--switch-workspace", ws)
    peer.expect_event("switched", workspace=ws)

    async def scenario() -> None:
        py = AsyncAgentClient(ws, "py", "to-users", tls_enabled=False)
        try:
            await connect_async(py, gateway)
            await py.send_broadcast_to_users(ws, b"gu from python", CHAT)
            await py.send_message_to_user_workspace(user, ws, b"uw from python", aether.CONTROL)
            src = f"ag::{ws}::py::to-users"
            await asyncio.to_thread(peer.expect, peer_msg(type="CHAT", payload="gu from python", source=src))
            await asyncio.to_thread(peer.expect, peer_msg(type="CONTROL", payload="uw from python", source=src))
        finally:
            await py.close()

    asyncio.run(scenario())


# --------------------------------------------------------------------------
# Duplicate identity
# --------------------------------------------------------------------------


def _assert_rust_holder_alive(gateway: Any, peer: Any, ws: str, impl: str, spec: str) -> None:
    """The Rust holder kept its identity: it still answers and never saw a disconnect."""
    inbox = Inbox()
    probe = AgentClient(ws, "py", uid("probe"))
    probe.on_message = catch_all(inbox)
    try:
        connect_sync(probe, gateway)
        probe.send_message_to_agent(ws, impl, spec, b"still there?", OPAQUE)
        inbox.wait_for(has("all", "all:still there?"), what="reply from the Rust holder")
    finally:
        probe.close()
    assert not peer.records_matching(lambda r: r.get("kind") == "disconnected")


def test_duplicate_identity_rust_holds_python_sync_fails(gateway, rust_peer, ws):
    impl, spec = uid("dup"), "one"
    peer = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", spec)
    py = AgentClient(ws, impl, spec)
    life = Lifecycle()
    life.attach(py)
    try:
        py.connect(gateway.target)  # returns before the handshake
        assert life.disconnected.wait(WAIT), "the duplicate Python client was never disconnected"
        # ALREADY_EXISTS is non-recoverable: the client stops, no reconnect.
        poll_until(lambda: not py.is_running, WAIT, "is_running to turn false")
        assert life.reasons == ["connection lost"]
        assert not life.connected.is_set(), "the duplicate must never see a ConnectionAck"
    finally:
        py.close()
    _assert_rust_holder_alive(gateway, peer, ws, impl, spec)


def test_duplicate_identity_rust_holds_python_async_fails(gateway, rust_peer, ws):
    impl, spec = uid("dup"), "one"
    peer = rust_peer("--role", "agent", "--workspace", ws, "--implementation", impl, "--specifier", spec)

    async def scenario() -> List[str]:
        py = AsyncAgentClient(ws, impl, spec, tls_enabled=False)
        life = Lifecycle()
        life.attach(py)
        try:
            await py.connect(gateway.target)
            await wait_until(life.disconnected.is_set, WAIT, "on_disconnect of the duplicate")
            await wait_until(lambda: not py.is_running, WAIT, "is_running to turn false")
            assert not life.connected.is_set()
            return life.reasons
        finally:
            await py.close()

    assert asyncio.run(scenario()) == ["connection lost"]
    _assert_rust_holder_alive(gateway, peer, ws, impl, spec)


@pytest.mark.parametrize("principal", ["agent", "task", "user"])
def test_duplicate_identity_python_holds_rust_connect_fails(gateway, rust_peer, ws, principal):
    impl, spec, user, window = uid("dup"), uid("s"), uid("u"), "w1"
    if principal == "agent":
        py: Any = AgentClient(ws, impl, spec)
    elif principal == "task":
        py = TaskClient(ws, impl, unique_specifier=spec)
    else:
        py = UserClient(user, window)
    args = [
        "--role", "duplicate", "--principal", principal, "--workspace", ws,
        "--implementation", impl, "--specifier", spec, "--user", user, "--window", window,
    ]
    try:
        connect_sync(py, gateway)
        dup = rust_peer(*args, ready=False)
        err = dup.expect(lambda r: r.tag in ("ERROR", "READY"), what="connect outcome")
        assert err.tag == "ERROR", f"the Rust client connected over a live identity: {err.raw}"
        assert err.get("error_kind") == "DuplicateIdentity", err.raw
        assert dup.wait_exit() == 0
        assert py.is_running, "the Python holder must keep its session"
    finally:
        py.close()

    # Once the Python client is gone the identity is free again; the gateway
    # notices the closed stream asynchronously, so retry until a deadline.
    deadline = time.monotonic() + WAIT
    while True:
        again = rust_peer(*args, ready=False)
        outcome = again.expect(lambda r: r.tag in ("ERROR", "READY"), what="connect outcome")
        again.wait_exit()
        if outcome.tag == "READY":
            break
        assert outcome.get("error_kind") == "DuplicateIdentity", outcome.raw
        assert time.monotonic() < deadline, "the identity was never released"
        time.sleep(0.1)  # retry backoff (bounded by the deadline), not synchronisation


def test_duplicate_identity_python_async_holds_rust_connect_fails(gateway, rust_peer, ws):
    impl, spec = uid("dup"), "held"

    async def scenario() -> None:
        py = AsyncAgentClient(ws, impl, spec, tls_enabled=False)
        try:
            await connect_async(py, gateway)
            dup = await asyncio.to_thread(
                rust_peer, "--role", "duplicate", "--workspace", ws, "--implementation", impl,
                "--specifier", spec, ready=False,
            )
            err = await asyncio.to_thread(dup.expect, lambda r: r.tag in ("ERROR", "READY"))
            assert (err.tag, err.get("error_kind")) == ("ERROR", "DuplicateIdentity"), err.raw
            assert py.is_running and py.is_connected
        finally:
            await py.close()

    asyncio.run(scenario())


# --------------------------------------------------------------------------
# Pooled tasks
# --------------------------------------------------------------------------


def test_rust_pooled_task_gets_assigned_id_and_python_messages_it(gateway, rust_peer, ws):
    impl = uid("pool")
    first = rust_peer("--role", "pooled", "--workspace", ws, "--implementation", impl)
    second = rust_peer("--role", "pooled", "--workspace", ws, "--implementation", impl)
    ids = []
    for peer in (first, second):
        info = peer.connected_event()
        assigned = info.get("assigned_id")
        assert assigned, info.raw
        assert info.get("task_assigned_id") == assigned  # TaskClient::assigned_id()
        assert info.get("identity") == f"ta::{ws}::{impl}::{assigned}" == peer.identity
        assert info.get("topic") == peer.identity
        ids.append(assigned)
    assert ids[0] != ids[1], "two pooled instances must get distinct ids"

    async def via_async(topic: str) -> Any:
        inbox = Inbox()
        py = AsyncAgentClient(ws, "py", "pool-async", tls_enabled=False)
        py.on_message = catch_all(inbox)
        try:
            await connect_async(py, gateway)
            # The SDK ignores ConnectionAck.assigned_id and has no helper for
            # `ta::ws::impl::ID`; `_send_message` is how a Python caller
            # addresses one pooled instance.
            await py._send_message(topic, b"job-async", CHAT)
            return (await inbox.await_for(has("all", "echo:job-async")))[0]
        finally:
            await py.close()

    inbox = Inbox()
    py = AgentClient(ws, "py", "pool-sync")
    py.on_message = catch_all(inbox)
    try:
        connect_sync(py, gateway)
        py._send_message(first.identity, b"job-sync", TOOL_CALL)
        echo = inbox.wait_for(has("all", "echo:job-sync"), what="echo from the pooled task")[0]
        assert (echo.source, echo.message_type) == (first.identity, TOOL_CALL)
    finally:
        py.close()
    first.expect(peer_msg(payload="job-sync", type="TOOL_CALL", source=f"ag::{ws}::py::pool-sync"))
    # Only the addressed instance got it.
    assert not second.records_matching(peer_msg(payload="job-sync"))

    echo = asyncio.run(via_async(second.identity))
    assert (echo.source, echo.message_type) == (second.identity, CHAT)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_python_pooled_task_connects_and_rust_agent_messages_it(gateway, rust_peer, ws, flavor):
    impl = uid("pypool")
    lister = rust_peer("--role", "sender", "--workspace", ws, "--specifier", uid("lister"))

    def find_pooled_identity() -> str:
        # Python ignores ConnectionAck.assigned_id; the Rust peer learns the
        # instance's identity from the gateway's session list.
        lister.run(f"list-sessions task {ws}")
        found = [
            r.get("identity")
            for r in lister.records_matching(
                lambda r: r.get("kind") == "session" and r.get("implementation") == impl
            )
        ]
        assert len(found) == 1, found
        identity = found[0]
        prefix = f"ta::{ws}::{impl}::"
        assert identity.startswith(prefix) and len(identity) > len(prefix), identity
        return identity

    def exchange() -> None:
        identity = find_pooled_identity()
        lister.run(f"send {identity} CHAT hello pooled python")

    if flavor == "sync":
        inbox = Inbox()
        py = TaskClient(ws, impl)  # no unique_specifier: a pooled task
        py.on_chat_message = inbox.handler("chat")
        py.on_message = catch_all(inbox)
        try:
            connect_sync(py, gateway)
            exchange()
            got = inbox.wait_for(has("all", "hello pooled python"), what="message to the pooled task")[0]
            inbox.wait_for(has("chat", "hello pooled python"))
        finally:
            py.close()
    else:

        async def scenario() -> Any:
            inbox = Inbox()
            py = AsyncTaskClient(ws, impl, tls_enabled=False)
            py.on_message = catch_all(inbox)
            try:
                await connect_async(py, gateway)
                await asyncio.to_thread(exchange)
                return (await inbox.await_for(has("all", "hello pooled python")))[0]
            finally:
                await py.close()

        got = asyncio.run(scenario())
    assert got.source == lister.identity
    assert got.message_type == CHAT


# --------------------------------------------------------------------------
# Python <-> Python through our gateway
# --------------------------------------------------------------------------


def test_python_sync_and_async_agents_through_our_gateway(gateway, ws):
    async def scenario() -> None:
        sync_inbox, async_inbox = Inbox(), Inbox()
        a = AgentClient(ws, "py", "sync-peer")
        a.on_chat_message = sync_inbox.handler("chat")
        a.on_message = catch_all(sync_inbox)
        b = AsyncAgentClient(ws, "py", "async-peer", tls_enabled=False)

        async def on_chat(msg: Any) -> None:
            async_inbox.handler("chat")(msg)
            await b.send_message_to_agent(ws, "py", "sync-peer", b"pong:" + bytes(msg.payload), CHAT)

        b.on_chat_message = on_chat
        b.on_message = catch_all(async_inbox)
        try:
            await asyncio.to_thread(connect_sync, a, gateway)
            await connect_async(b, gateway)
            a.send_message_to_agent(ws, "py", "async-peer", b"ping", CHAT)
            a.send_message_to_agent(ws, "py", "async-peer", b"opaque", OPAQUE)
            await async_inbox.await_for(has("chat", "ping", source=f"ag::{ws}::py::sync-peer"))
            await async_inbox.await_for(has("all", "opaque", message_type=OPAQUE))
            await async_inbox.await_for(has("all", "ping", message_type=CHAT))
            pong = (await sync_inbox.await_for(has("all", "pong:ping")))[0]
            assert (pong.source, pong.message_type) == (f"ag::{ws}::py::async-peer", CHAT)
            await sync_inbox.await_for(has("chat", "pong:ping"))
            # OPAQUE reached only the catch-all (its typed task would have run first).
            assert "opaque" not in {g.text for g in async_inbox.items("chat")}
        finally:
            await b.close()
            a.close()

    asyncio.run(scenario())


# --------------------------------------------------------------------------
# The peer itself: it always ends by itself
# --------------------------------------------------------------------------


def test_rust_peer_exits_on_sigterm_stdin_eof_and_timeout(rust_peer, ws):
    by_signal = rust_peer("--role", "agent", "--workspace", ws, "--specifier", uid("sig"))
    by_signal.proc.send_signal(signal.SIGTERM)
    assert by_signal.wait_exit() == 0
    assert by_signal.records_matching(lambda r: r.tag == "EXIT")[0].get("reason") == "signal"

    by_eof = rust_peer("--role", "user", "--user", uid("u"))
    assert by_eof.stop() == 0
    assert by_eof.records_matching(lambda r: r.tag == "EXIT")[0].get("reason") == "stdin-eof"

    by_timeout = rust_peer("--role", "pooled", "--workspace", ws, timeout_secs=1)
    assert by_timeout.wait_exit(timeout=WAIT) == 0
    assert by_timeout.records_matching(lambda r: r.tag == "EXIT")[0].get("reason") == "timeout"
