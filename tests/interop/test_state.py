"""Interop of shared state through our gateway: KV, checkpoints, POOL tasks
and progress, between the official Python SDK (scitrera-aether-client
0.2.3, sync and async clients) and our Rust SDK (the `state` and
`pool-worker` roles of the Rust peer).

The two Python flavours differ (python-sdk-api §1.2-§1.5, §7.1):

* sync `kv_*` calls are fire-and-forget; their replies reach
  `on_kv_response`, in request order (no request id), which is how these
  tests wait for them. Async `kv_*` calls are awaited and return the reply.
* checkpoints: sync `checkpoint_*_sync` block, async `checkpoint_*` await.
* tasks: `create_task_sync` / `get_task` / `complete_task` exist in both;
  `claim_task` only in async, so the sync worker completes without a claim.
* callbacks: sync ones run on the listener thread and async
  `on_task_assignment` is awaited by the listen loop, so neither may wait
  for a reply inside the callback (that reply could never be read). The
  Python workers here record the assignment and work it from the test.

Each scenario is a coroutine; the sync client's blocking calls run in a
worker thread (`asyncio.to_thread`), so one scenario serves both flavours.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, List, Optional

import pytest
from scitrera_aether_client import AgentClient, AsyncAgentClient
from scitrera_aether_client.proto import aether_pb2 as pb

from interop_support import WAIT, Lifecycle, Record, Recorder, RustPeer, uid, wait_until

FLAVORS = pytest.mark.parametrize("flavor", ["sync", "async"])

COMPLETED = pb.TASK_STATUS_COMPLETED
QUEUED = pb.TASK_STATUS_QUEUED
RUNNING = pb.TASK_STATUS_RUNNING


# --------------------------------------------------------------------------
# A Python agent, sync or async, behind awaitable methods
# --------------------------------------------------------------------------


class PyAgent:
    """One Python agent (`AgentClient` or `AsyncAgentClient`) with the
    state calls this suite makes, awaitable whatever the flavour. Task
    assignments and progress updates are recorded."""

    def __init__(self, flavor: str, gateway: Any, ws: str, impl: str = "py", spec: str = ""):
        self.flavor = flavor
        self.gateway = gateway
        self.ws, self.impl, self.spec = ws, impl, spec or uid("py")
        self.identity = f"ag::{ws}::{self.impl}::{self.spec}"
        self.assignments = Recorder()
        self.progress = Recorder()
        self.client: Any = None
        self.life = Lifecycle()
        # Replies to the sync client's fire-and-forget KV calls, in order.
        self._kv_replies: List[Any] = []
        self._kv_cv = threading.Condition()

    @property
    def sync(self) -> bool:
        return self.flavor == "sync"

    def _new_client(self) -> None:
        if self.sync:
            client: Any = AgentClient(self.ws, self.impl, self.spec)
            client.on_kv_response = self._on_kv_reply
        else:
            client = AsyncAgentClient(self.ws, self.impl, self.spec, tls_enabled=False)
        client.on_task_assignment = self.assignments.put
        client.on_progress = self.progress.put
        self.life = Lifecycle()
        self.life.attach(client)
        self.client = client

    async def start(self, until_free: float = 0.0) -> "PyAgent":
        """Connects and waits for the handshake. With `until_free`, a
        refusal (the identity is still held, e.g. by a Rust peer that just
        left and whose stream the gateway has not reaped yet) is retried
        with a fresh client until that many seconds have passed."""
        deadline = time.monotonic() + until_free
        while True:
            self._new_client()
            if self.sync:
                await asyncio.to_thread(self.client.connect, self.gateway.target)
            else:
                await self.client.connect(self.gateway.target)
            life = self.life
            await wait_until(
                lambda: life.connected.is_set() or life.disconnected.is_set(),
                WAIT,
                f"the handshake or refusal of {self.identity}",
            )
            if life.connected.is_set():
                return self
            await self.close()
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.identity} was refused: {life.reasons}")
            await asyncio.sleep(0.1)  # retry backoff (bounded by the deadline)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if self.sync:
            await asyncio.to_thread(client.close)
        else:
            await client.close()

    # -- KV ------------------------------------------------------------------

    def _on_kv_reply(self, reply: Any) -> None:
        with self._kv_cv:
            self._kv_replies.append(reply)
            self._kv_cv.notify_all()

    def _kv_roundtrip(self, send: Callable[[], None], count: int) -> List[Any]:
        """Sends fire-and-forget KV call(s) and waits for `count` replies."""
        with self._kv_cv:
            start = len(self._kv_replies)
        send()
        deadline = time.monotonic() + WAIT
        with self._kv_cv:
            while len(self._kv_replies) < start + count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self._kv_replies) - start} of {count} KV replies "
                        f"reached on_kv_response within {WAIT}s"
                    )
                self._kv_cv.wait(left)
            return self._kv_replies[start : start + count]

    async def _kv(self, sync_call: Callable[[], None], async_call: Callable[[], Any], what: str) -> Any:
        if self.sync:
            (reply,) = await asyncio.to_thread(self._kv_roundtrip, sync_call, 1)
        else:
            reply = await async_call()
        assert reply is not None, f"{what}: no reply (timeout)"
        assert reply.success, f"{what}: refused: {reply}"
        return reply

    async def kv_put(
        self, key: str, value: bytes, scope: str = "global", workspace: str = "", ttl: int = 0
    ) -> None:
        c = self.client
        await self._kv(
            lambda: c.kv_put(key, value, scope=scope, workspace=workspace, ttl=ttl),
            lambda: c.kv_put(key, value, scope=scope, workspace=workspace, ttl=ttl),
            f"kv_put {key}",
        )

    async def kv_get(self, key: str, scope: str = "global", workspace: str = "") -> Optional[bytes]:
        """The value, or None when missing (the protocol returns empty bytes)."""
        c = self.client
        reply = await self._kv(
            lambda: c.kv_get(key, scope=scope, workspace=workspace),
            lambda: c.kv_get(key, scope=scope, workspace=workspace),
            f"kv_get {key}",
        )
        return bytes(reply.value) or None

    async def kv_list(self, prefix: str, scope: str = "global") -> List[str]:
        c = self.client
        reply = await self._kv(
            lambda: c.kv_list(prefix, scope=scope),
            lambda: c.kv_list(prefix, scope=scope),
            f"kv_list {prefix}",
        )
        return sorted(reply.keys)

    async def kv_increments(self, key: str, count: int) -> List[int]:
        """`count` increments of a global counter, all in flight at once;
        the value each one returned."""
        if self.sync:
            c = self.client

            def send() -> None:
                for _ in range(count):
                    c.kv_increment(key, scope="global")

            replies = await asyncio.to_thread(self._kv_roundtrip, send, count)
        else:
            calls = [self.client.kv_increment(key, scope="global") for _ in range(count)]
            replies = await asyncio.gather(*calls)
        for r in replies:
            assert r is not None and r.success, f"kv_increment {key}: {r}"
        return [r.counter_value for r in replies]

    # -- checkpoints -----------------------------------------------------------

    async def _checkpoint(self, name: str, *args: Any) -> Any:
        if self.sync:
            reply = await asyncio.to_thread(getattr(self.client, f"{name}_sync"), *args)
        else:
            reply = await getattr(self.client, name)(*args)
        assert reply is not None, f"{name}: no reply (timeout)"
        assert reply.success, f"{name}: refused: {reply}"
        return reply

    async def checkpoint_save(self, data: bytes, key: str = "") -> None:
        await self._checkpoint("checkpoint_save", data, key)

    async def checkpoint_load(self, key: str = "") -> bytes:
        """The data (empty when there is no such checkpoint)."""
        return bytes((await self._checkpoint("checkpoint_load", key)).data)

    async def checkpoint_list(self) -> List[str]:
        return sorted((await self._checkpoint("checkpoint_list")).keys)

    async def checkpoint_delete(self, key: str) -> None:
        await self._checkpoint("checkpoint_delete", key)

    # -- tasks -----------------------------------------------------------------

    async def _blocking_or_awaited(self, name: str, *args: Any, **kwargs: Any) -> Any:
        call = getattr(self.client, name)
        if self.sync:
            reply = await asyncio.to_thread(call, *args, **kwargs)
        else:
            reply = await call(*args, **kwargs)
        assert reply is not None, f"{name}: no reply (timeout)"
        return reply

    async def create_pool_task(
        self, task_type: str, implementation: str, payload: bytes, **metadata: str
    ) -> Any:
        """`create_task_sync` with `target_implementation` (so POOL mode)."""
        reply = await self._blocking_or_awaited(
            "create_task_sync",
            task_type,
            self.ws,
            target_implementation=implementation,
            payload=payload,
            metadata=metadata or None,
        )
        assert reply.success, f"create_task_sync refused: {reply}"
        assert reply.task_id, reply
        return reply

    async def get_task(self, task_id: str) -> Any:
        reply = await self._blocking_or_awaited("get_task", task_id)
        assert reply.success, f"get_task {task_id}: {reply}"
        return reply.task

    async def complete_task(self, task_id: str) -> Any:
        reply = await self._blocking_or_awaited("complete_task", task_id)
        assert reply.success, f"complete_task {task_id}: {reply}"
        return reply.task

    async def claim_task(self, task_id: str) -> Any:
        assert not self.sync, "the sync Python client has no claim_task"
        reply = await self.client.claim_task(task_id)
        assert reply is not None and reply.success, f"claim_task {task_id}: {reply}"
        return reply.task

    async def report_progress(self, task_id: str, **kwargs: Any) -> None:
        if self.sync:
            self.client.report_progress(task_id, **kwargs)
        else:
            await self.client.report_progress(task_id, **kwargs)


# --------------------------------------------------------------------------
# Rust peers from coroutines
# --------------------------------------------------------------------------


async def spawn(rust_peer: Any, *args: str) -> RustPeer:
    return await asyncio.to_thread(rust_peer, *args)


async def run(peer: RustPeer, command: str) -> Record:
    """Runs a stdin command; its `ok` event carries the results."""
    return await asyncio.to_thread(peer.run, command)


async def expect(peer: RustPeer, kind: str, **fields: Any) -> Record:
    return await asyncio.to_thread(peer.expect_event, kind, WAIT, **fields)


async def state_peer(rust_peer: Any, ws: str, spec: str = "", impl: str = "rust-peer") -> RustPeer:
    return await spawn(
        rust_peer, "--role", "state", "--workspace", ws, "--implementation", impl,
        "--specifier", spec or uid("rs"),
    )


async def spawn_when_free(rust_peer: Any, *args: str) -> RustPeer:
    """Starts a peer whose identity a client that just left may still hold
    (the gateway reaps a closed stream asynchronously): a DuplicateIdentity
    refusal is retried until a deadline."""
    deadline = time.monotonic() + WAIT
    while True:
        peer = await asyncio.to_thread(rust_peer, *args, ready=False)
        outcome = await asyncio.to_thread(
            peer.expect, lambda r: r.tag in ("READY", "ERROR"), WAIT, "connect outcome"
        )
        if outcome.tag == "READY":
            peer.identity = outcome.get("identity")
            return peer
        assert outcome.get("error_kind") == "DuplicateIdentity", outcome.raw
        await asyncio.to_thread(peer.wait_exit)
        assert time.monotonic() < deadline, "the identity was never released"
        await asyncio.sleep(0.1)  # retry backoff (bounded by the deadline)


async def stop(peer: RustPeer) -> None:
    """Ends a peer (stdin EOF) and checks it exited cleanly."""
    assert await asyncio.to_thread(peer.stop) == 0


async def poll(cond: Callable[[], Any], timeout: float, what: str) -> None:
    """Awaits `cond()` again and again until it is true or the deadline
    passes (a short polling loop on a condition)."""
    deadline = time.monotonic() + timeout
    while not await cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def scenario(coro: Any) -> None:
    asyncio.run(coro)


# --------------------------------------------------------------------------
# 1. KV shared between Python and Rust
# --------------------------------------------------------------------------


@FLAVORS
def test_kv_python_puts_rust_reads_global_and_workspace(gateway, rust_peer, ws, flavor):
    async def main() -> None:
        py = await PyAgent(flavor, gateway, ws).start()
        gk, wk, own = uid("g"), uid("w"), uid("own")
        try:
            await py.kv_put(gk, b"from-python-global")  # the SDK's default scope: global
            await py.kv_put(wk, b"from-python-ws", scope="workspace", workspace=ws)
            # An empty workspace means the caller's session workspace.
            await py.kv_put(own, b"from-python-own-ws", scope="workspace")
        finally:
            await py.close()

        inside = await state_peer(rust_peer, ws)
        got = await run(inside, f"kv-get global {gk}")
        assert (got.get("found"), got.get("value")) == (True, "from-python-global"), got.raw
        got = await run(inside, f"kv-get workspace {wk}")
        assert (got.get("found"), got.get("value")) == (True, "from-python-ws"), got.raw
        got = await run(inside, f"kv-get workspace {own}")
        assert (got.get("found"), got.get("value")) == (True, "from-python-own-ws"), got.raw

        # Workspace scope is per workspace: an agent elsewhere sees it only
        # by naming the workspace; global is global.
        outside = await state_peer(rust_peer, uid("ws-other"))
        got = await run(outside, f"kv-get workspace {wk}")
        assert got.get("found") is False, got.raw
        got = await run(outside, f"kv-get ws:{ws} {wk}")
        assert got.get("value") == "from-python-ws", got.raw
        got = await run(outside, f"kv-get global {gk}")
        assert got.get("value") == "from-python-global", got.raw

    scenario(main())


@FLAVORS
def test_kv_rust_puts_python_reads_and_lists(gateway, rust_peer, ws, flavor):
    async def main() -> None:
        prefix, wk = uid("pfx") + "/", uid("w")
        rust = await state_peer(rust_peer, ws)
        await run(rust, f"kv-put global {prefix}a value-a")
        await run(rust, f"kv-put global {prefix}b value-b")
        await run(rust, f"kv-put workspace {wk} value-ws")

        py = await PyAgent(flavor, gateway, ws).start()
        try:
            assert await py.kv_get(f"{prefix}a") == b"value-a"
            assert await py.kv_get(f"{prefix}b", scope="global") == b"value-b"
            assert await py.kv_list(prefix) == [f"{prefix}a", f"{prefix}b"]
            assert await py.kv_get(wk, scope="workspace") == b"value-ws"
            assert await py.kv_get(wk, scope="workspace", workspace=ws) == b"value-ws"
            assert await py.kv_get(wk, scope="global") is None, "a workspace key is not global"
            assert await py.kv_get(f"{prefix}missing") is None

            # A Rust delete is seen by Python.
            await run(rust, f"kv-delete global {prefix}a")
            assert await py.kv_get(f"{prefix}a") is None
            assert await py.kv_list(prefix) == [f"{prefix}b"]
        finally:
            await py.close()

    scenario(main())


@FLAVORS
def test_kv_counter_incremented_by_both_sides_sums(gateway, rust_peer, ws, flavor):
    per_side = 15

    async def main() -> None:
        key = uid("ctr")
        rust = await state_peer(rust_peer, ws)
        py = await PyAgent(flavor, gateway, ws).start()
        try:
            # Both sides increment at the same time.
            rust.command(f"kv-incr global {key} {per_side}")
            py_values = await py.kv_increments(key, per_side)
            rust_done = await asyncio.to_thread(
                rust.expect, lambda r: r.get("kind") == "ok" and r.get("command") == "kv-incr", WAIT
            )
            rust_values = rust_done.get("values")
            # Every increment got its own value: together exactly 1..2N.
            assert sorted(py_values + rust_values) == list(range(1, 2 * per_side + 1)), (
                py_values,
                rust_values,
            )
            assert rust_values == sorted(rust_values), "one client's increments are ordered"
            assert await py.kv_get(key) == str(2 * per_side).encode()
            got = await run(rust, f"kv-get global {key}")
            assert got.get("value") == str(2 * per_side), got.raw
        finally:
            await py.close()

    scenario(main())


@FLAVORS
def test_kv_rust_compare_and_set_over_a_python_value(gateway, rust_peer, ws, flavor):
    async def main() -> None:
        key = uid("cas")
        rust = await state_peer(rust_peer, ws)
        py = await PyAgent(flavor, gateway, ws).start()
        try:
            await py.kv_put(key, b"v1")
            assert (await run(rust, f"kv-cas global {key} not-v1 nope")).get("applied") is False
            assert (await run(rust, f"kv-get global {key}")).get("value") == "v1"
            assert (await run(rust, f"kv-cas global {key} v1 v2")).get("applied") is True
            assert await py.kv_get(key) == b"v2"

            # Python overwrites; the Rust side's stale expectation fails.
            await py.kv_put(key, b"v3")
            assert (await run(rust, f"kv-cas global {key} v2 v4")).get("applied") is False
            assert await py.kv_get(key) == b"v3"
            # A missing key never matches.
            assert (await run(rust, f"kv-cas global {uid('absent')} v1 v2")).get("applied") is False
        finally:
            await py.close()

    scenario(main())


@FLAVORS
@pytest.mark.parametrize("writer", ["python", "rust"])
def test_kv_ttl_key_disappears_for_the_other_side(gateway, rust_peer, ws, flavor, writer):
    ttl = 2  # seconds; long enough to see the key once before it expires

    async def main() -> None:
        key, keep = uid("ttl"), uid("keep")
        rust = await state_peer(rust_peer, ws)
        py = await PyAgent(flavor, gateway, ws).start()
        try:
            if writer == "python":
                await py.kv_put(key, b"short-lived", ttl=ttl)
                await py.kv_put(keep, b"no-ttl")

                async def rust_sees(k: str) -> bool:
                    return bool((await run(rust, f"kv-get global {k}")).get("found"))

                async def gone_for_rust() -> bool:
                    return not await rust_sees(key)

                assert await rust_sees(key), "the TTL key must be visible before it expires"
                await poll(gone_for_rust, ttl + WAIT, "the key to expire for Rust")
                assert await rust_sees(keep)
            else:
                await run(rust, f"kv-put global {key} short-lived {ttl}")
                await run(rust, f"kv-put global {keep} no-ttl")
                assert await py.kv_get(key) == b"short-lived"

                async def gone_for_python() -> bool:
                    return await py.kv_get(key) is None

                await poll(gone_for_python, ttl + WAIT, "the key to expire for Python")
                assert await py.kv_get(keep) == b"no-ttl"
        finally:
            await py.close()

    scenario(main())


# --------------------------------------------------------------------------
# 2. Checkpoints: one identity, Python then Rust (and back)
# --------------------------------------------------------------------------


@FLAVORS
def test_checkpoint_python_saves_rust_same_identity_loads(gateway, rust_peer, ws, flavor):
    impl, spec = uid("ckpt"), "one"
    same_identity = ["--role", "state", "--workspace", ws, "--implementation", impl, "--specifier", spec]

    async def main() -> None:
        py = await PyAgent(flavor, gateway, ws, impl, spec).start()
        try:
            await py.checkpoint_save(b"python-state", "state")
            await py.checkpoint_save(b"python-default")  # key "" is the gateway's "default"
            assert await py.checkpoint_list() == ["default", "state"]
        finally:
            await py.close()

        rust = await spawn_when_free(rust_peer, *same_identity)
        assert rust.identity == py.identity
        got = await run(rust, "checkpoint-load state")
        assert (got.get("found"), got.get("data")) == (True, "python-state"), got.raw
        assert got.get("saved_at") > 0
        got = await run(rust, "checkpoint-load -")
        assert got.get("data") == "python-default", got.raw
        assert (await run(rust, "checkpoint-load default")).get("data") == "python-default"
        assert (await run(rust, "checkpoint-list")).get("keys") == ["default", "state"]
        await run(rust, "checkpoint-delete state")
        await run(rust, "checkpoint-save rust-key rust-data")
        await stop(rust)

        # Checkpoints belong to the identity: another specifier sees none.
        other = await state_peer(rust_peer, ws, spec="two", impl=impl)
        assert (await run(other, "checkpoint-list")).get("keys") == []

        again = await PyAgent(flavor, gateway, ws, impl, spec).start(until_free=WAIT)
        try:
            assert await again.checkpoint_list() == ["default", "rust-key"]
            assert await again.checkpoint_load("state") == b"", "deleted by the Rust side"
            assert await again.checkpoint_load("rust-key") == b"rust-data"
        finally:
            await again.close()

    scenario(main())


@FLAVORS
def test_checkpoint_rust_saves_python_same_identity_loads(gateway, rust_peer, ws, flavor):
    impl, spec = uid("ckpt"), "one"
    same_identity = ["--role", "state", "--workspace", ws, "--implementation", impl, "--specifier", spec]

    async def main() -> None:
        rust = await spawn(rust_peer, *same_identity)
        await run(rust, "checkpoint-save k1 rust-one")
        await run(rust, "checkpoint-save k2 rust-two 3600")
        await run(rust, "checkpoint-save - rust-default")
        assert (await run(rust, "checkpoint-list")).get("keys") == ["default", "k1", "k2"]
        await stop(rust)

        py = await PyAgent(flavor, gateway, ws, impl, spec).start(until_free=WAIT)
        assert py.identity == rust.identity
        try:
            assert await py.checkpoint_load("k1") == b"rust-one"
            assert await py.checkpoint_load("k2") == b"rust-two"
            assert await py.checkpoint_load() == b"rust-default"
            assert await py.checkpoint_list() == ["default", "k1", "k2"]
            await py.checkpoint_delete("k2")
            await py.checkpoint_save(b"python-data", "py-key")
        finally:
            await py.close()

        back = await spawn_when_free(rust_peer, *same_identity)
        assert (await run(back, "checkpoint-list")).get("keys") == ["default", "k1", "py-key"]
        assert (await run(back, "checkpoint-load k2")).get("found") is False
        got = await run(back, "checkpoint-load py-key")
        assert (got.get("found"), got.get("data")) == (True, "python-data"), got.raw

    scenario(main())


# --------------------------------------------------------------------------
# 3. POOL tasks across the two SDKs
# --------------------------------------------------------------------------


def _is_task_status(task_id: str, state: str) -> Callable[[Any], bool]:
    """A gateway status notification (§2.10) about `task_id`."""

    def pred(u: Any) -> bool:
        return u.task_id == task_id and u.state == state and u.kind == pb.PROGRESS_KIND_TASK

    return pred


async def _expect_worked(worker: RustPeer, task_id: str, progress: bool = False) -> Record:
    """The Rust pool worker's reports for one task; returns its assignment."""
    assignment = await expect(worker, "assignment", task_id=task_id)
    assert (await expect(worker, "claimed", task_id=task_id)).get("status") == "RUNNING"
    if progress:
        await expect(worker, "progress-sent", task_id=task_id)
    assert (await expect(worker, "completed", task_id=task_id)).get("status") == "COMPLETED"
    return assignment


@FLAVORS
def test_python_pool_task_is_worked_by_a_rust_agent(gateway, rust_peer, ws, flavor):
    impl = uid("rworker")

    async def main() -> None:
        worker = await spawn(
            rust_peer, "--role", "pool-worker", "--workspace", ws, "--implementation", impl,
            "--specifier", "w1", "--progress-summary", "halfway",
        )
        py = await PyAgent(flavor, gateway, ws).start()
        try:
            created = await py.create_pool_task("interop-job", impl, b"job-payload", origin="python")
            assert created.status == "pending_pool", created

            assignment = await _expect_worked(worker, created.task_id, progress=True)
            assert assignment.get("task_type") == "interop-job"
            assert assignment.get("payload") == "job-payload"
            assert assignment.get("assigned_to") == worker.identity
            assert assignment.get("metadata") == ["origin=python"]

            task = await py.get_task(created.task_id)
            assert task.status == COMPLETED, task
            assert task.assigned_to == worker.identity
            assert task.creator_actor_id == py.identity
            assert (task.workspace, task.task_type) == (ws, "interop-job")

            # The creator (an agent of the workspace) sees the worker's
            # progress report and the gateway's status notification.
            report = await py.progress.await_for(
                lambda u: u.task_id == created.task_id and u.source == worker.identity,
                what="the Rust worker's progress",
            )
            assert (report.summary, report.completion, report.step.name) == ("halfway", 0.5, "work")
            done = await py.progress.await_for(
                _is_task_status(created.task_id, "completed"), what="the completed notification"
            )
            assert done.recipient == py.identity
            assert not py.assignments.items(), "the creator is not a worker of the implementation"
        finally:
            await py.close()

    scenario(main())


@FLAVORS
def test_rust_pool_task_is_worked_by_a_python_agent(gateway, rust_peer, ws, flavor):
    impl = uid("pyworker")

    async def main() -> None:
        py = await PyAgent(flavor, gateway, ws, impl=impl, spec="w1").start()
        try:
            creator = await state_peer(rust_peer, ws)
            created = await run(creator, f"create-pool-task {ws} {impl} rust-job rust-payload")
            task_id = created.get("task_id")
            assert task_id and created.get("status") == "pending_pool", created.raw

            got = await py.assignments.await_for(lambda a: a.task_id == task_id, what="the assignment")
            assert (got.task_type, bytes(got.payload)) == ("rust-job", b"rust-payload")
            assert got.assigned_to == py.identity
            if not py.sync:
                assert (await py.claim_task(task_id)).status == RUNNING
                running = await expect(creator, "progress", task_id=task_id, state="running")
                assert running.get("progress_kind") == "PROGRESS_KIND_TASK"
            # The sync SDK has no claim_task; COMPLETE needs no prior claim.
            assert (await py.complete_task(task_id)).status == COMPLETED

            task = await run(creator, f"get-task {task_id}")
            assert task.get("status") == "COMPLETED", task.raw
            assert task.get("assigned_to") == py.identity
            assert task.get("creator") == creator.identity
            # The Rust creator gets the gateway's status notification.
            done = await expect(creator, "progress", task_id=task_id, state="completed")
            assert done.get("recipient") == creator.identity
            assert done.get("progress_kind") == "PROGRESS_KIND_TASK"
        finally:
            await py.close()

    scenario(main())


@FLAVORS
def test_pool_task_waits_for_a_rust_worker_to_connect(gateway, rust_peer, ws, flavor):
    impl = uid("later")

    async def main() -> None:
        py = await PyAgent(flavor, gateway, ws).start()
        try:
            created = await py.create_pool_task("held-job", impl, b"held")
            assert (created.status, created.assigned_to) == ("pending_pool", "")
            task = await py.get_task(created.task_id)
            assert (task.status, task.assigned_to) == (QUEUED, "")

            worker = await spawn(
                rust_peer, "--role", "pool-worker", "--workspace", ws, "--implementation", impl,
                "--specifier", "late",
            )
            assignment = await _expect_worked(worker, created.task_id)
            assert assignment.get("payload") == "held"
            task = await py.get_task(created.task_id)
            assert (task.status, task.assigned_to) == (COMPLETED, worker.identity)
        finally:
            await py.close()

    scenario(main())


# --------------------------------------------------------------------------
# 4. Progress
# --------------------------------------------------------------------------


def test_rust_worker_progress_reaches_python_agents_of_the_workspace(gateway, rust_peer, ws):
    impl, other_ws = uid("prog"), uid("ws-other")

    async def main() -> None:
        observers = [
            await PyAgent("sync", gateway, ws, spec="obs-sync").start(),
            await PyAgent("async", gateway, ws, spec="obs-async").start(),
        ]
        elsewhere = await PyAgent("async", gateway, other_ws, spec="obs-elsewhere").start()
        try:
            worker = await spawn(
                rust_peer, "--role", "pool-worker", "--workspace", ws, "--implementation", impl,
                "--specifier", "w1", "--progress-summary", "step one done",
            )
            creator = await state_peer(rust_peer, ws)
            task_id = (await run(creator, f"create-pool-task {ws} {impl} job")).get("task_id")
            await _expect_worked(worker, task_id, progress=True)

            for obs in observers:
                u = await obs.progress.await_for(
                    lambda u: u.source == worker.identity and u.task_id == task_id,
                    what=f"the worker's progress on {obs.flavor}",
                )
                assert (u.summary, u.completion, u.state) == ("step one done", 0.5, "running")
                assert u.workspace == ws
                assert (u.step.name, u.step.sequence, u.step.total_steps) == ("work", 1, 2)
                assert u.recipient == ""
                # Status notifications go to the creator only.
                assert not [x for x in obs.progress.items() if x.kind == pb.PROGRESS_KIND_TASK]

            # Other workspaces do not get it: a later report into that
            # workspace reaches it after anything pushed earlier would have.
            marker = await state_peer(rust_peer, other_ws)
            await run(marker, "report-progress - 1 marker")
            await elsewhere.progress.await_for(lambda u: u.summary == "marker", what="the marker")
            assert [u.summary for u in elsewhere.progress.items()] == ["marker"]
        finally:
            for obs in observers + [elsewhere]:
                await obs.close()

    scenario(main())


@FLAVORS
def test_python_progress_reaches_a_rust_agent(gateway, rust_peer, ws, flavor):
    async def main() -> None:
        listener = await state_peer(rust_peer, ws)
        py = await PyAgent(flavor, gateway, ws).start()
        try:
            await py.report_progress(
                "job-42", state="parsing", completion=0.25, summary="from python",
                step_name="parse", step_sequence=1, step_total=3, kind=pb.PROGRESS_KIND_APP,
            )
            got = await expect(listener, "progress", source=py.identity)
            assert (got.get("task_id"), got.get("state")) == ("job-42", "parsing")
            assert got.get("summary") == "from python"
            assert got.get("completion") == 0.25
            assert (got.get("step"), got.get("workspace")) == ("parse", ws)
            assert got.get("progress_kind") == "PROGRESS_KIND_APP"
        finally:
            await py.close()

    scenario(main())
