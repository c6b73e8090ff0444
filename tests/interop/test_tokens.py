"""API tokens minted by our gateway, used by the official Python SDK.

Our gateway runs outside dev mode (`--admin-key`): a Python user window
authenticated with the admin key mints an Agent token with the Python
`AsyncAdminClient`, a Python agent connects with it (`Credentials.api_key`,
which sends `x-api-key`), the same token is refused for another workspace,
and revoking it ends the Python agent's session.
"""

from __future__ import annotations

import asyncio
import os
import queue
import secrets
import signal
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
from scitrera_aether_client import AsyncAgentClient, AsyncUserClient, Credentials
from scitrera_aether_client.admin_async import AsyncAdminClient

from conftest import LISTENING, Gateway
from interop_support import WAIT, Lifecycle, binary, uid, wait_until


@pytest.fixture(scope="module")
def secured(logs_dir: Path) -> Iterator[tuple]:
    """Our gateway with an admin key (no --dev), and that key."""
    exe = binary("AETHER_GATEWAY_BIN", "target/debug/aether-gateway")
    if not exe.exists():
        pytest.fail(f"gateway binary {exe} missing: run `cargo build -p aether-gateway --bins`")
    key = secrets.token_hex(16)
    log_path = logs_dir / "secured-gateway.log"
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [str(exe), "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        # The key through the environment, not the command line.
        env={**os.environ, "AETHER_ADMIN_KEY": key, "RUST_LOG": "info", "NO_COLOR": "1"},
    )
    lines: "queue.Queue[str]" = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    first = lines.get(timeout=30)
    match = LISTENING.match(first)
    if not match:
        proc.kill()
        pytest.fail(f"unexpected first gateway line {first!r}")
    try:
        yield Gateway(match.group(1), int(match.group(2)), log_path), key
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        log.close()
        assert code == 0, f"gateway exited with {code}"
        assert key not in log_path.read_text(), "the admin key was logged"


async def connected(client, target: str) -> Lifecycle:
    life = Lifecycle()
    life.attach(client)
    await client.connect(target)
    await wait_until(
        lambda: life.connected.is_set() or life.disconnected.is_set(), WAIT, "a handshake or refusal"
    )
    return life


def test_a_python_agent_connects_with_a_token_our_gateway_minted(secured, caplog):
    asyncio.run(scenario(*secured, caplog))


async def scenario(gateway: Gateway, key: str, caplog) -> None:
    ws = uid("ws")
    root = AsyncUserClient("root", uid("console"), credentials=Credentials.api_key(key), tls_enabled=False)
    life = await connected(root, gateway.target)
    assert life.connected.is_set(), life.reasons
    admin = AsyncAdminClient(root)
    resp = await admin.create_token("py agent", "Agent", workspace_patterns=[ws])
    assert resp is not None and resp.success, resp
    token = resp.plaintext_token
    assert token.startswith("aet_")
    token_id = resp.created_token.id

    agent = AsyncAgentClient(ws, "py", uid("a"), credentials=Credentials.api_key(token), tls_enabled=False)
    alife = await connected(agent, gateway.target)
    assert alife.connected.is_set(), alife.reasons

    # The same token in another workspace is refused.
    stray = AsyncAgentClient(uid("other"), "py", uid("a"), credentials=Credentials.api_key(token),
                             tls_enabled=False, auto_reconnect=False)
    slife = await connected(stray, gateway.target)
    assert not slife.connected.is_set() and slife.disconnected.is_set()
    # The SDK reports the refusal in its log (its on_disconnect only says
    # "connection lost").
    await wait_until(lambda: "PERMISSION_DENIED" in caplog.text, WAIT, "the logged refusal")
    assert "API key not authorized for workspace" in caplog.text

    # Revoking it ends the Python agent's session.
    revoked = await admin.revoke_token(token_id)
    assert revoked is not None and revoked.success, revoked
    await wait_until(alife.disconnected.is_set, WAIT, "the revoked agent's disconnect")
    listed = await admin.list_tokens(include_revoked=True)
    assert listed is not None and [t.revoked for t in listed.tokens] == [True]
    for c in (agent, stray, root):
        await c.close()
