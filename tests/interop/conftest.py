"""Fixtures of the interop suite: our gateway as a process, and Rust peers.

Binaries come from `AETHER_GATEWAY_BIN` (default `target/debug/aether-gateway`)
and `AETHER_INTEROP_PEER` (default `target/debug/examples/interop_peer`);
build them with `cargo build -p aether-gateway --bins` and
`cargo build --example interop_peer`.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interop_support import RustPeer, binary, uid  # noqa: E402

LISTENING = re.compile(r"^listening on (\S+):(\d+)$")


@dataclass
class Gateway:
    host: str
    port: int
    log_path: Path

    @property
    def target(self) -> str:
        """`host:port`, as the Python SDK's `connect(target)` wants it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """`http://host:port`, as the Rust SDK's `.gateway(url)` wants it."""
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interop-logs")


@pytest.fixture(scope="session")
def gateway(logs_dir: Path) -> Iterator[Gateway]:
    exe = binary("AETHER_GATEWAY_BIN", "target/debug/aether-gateway")
    if not exe.exists():
        pytest.fail(f"gateway binary {exe} missing: run `cargo build -p aether-gateway --bins`")
    log_path = logs_dir / "gateway.log"
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [str(exe), "--port", "0", "--dev"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info"), "NO_COLOR": "1"},
    )
    lines: "queue.Queue[str]" = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    try:
        first = lines.get(timeout=30)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"gateway printed nothing in 30s; log:\n{log_path.read_text()[-3000:]}")
    match = LISTENING.match(first)
    if not match:
        proc.kill()
        pytest.fail(f"unexpected first gateway line {first!r}")
    gw = Gateway(match.group(1), int(match.group(2)), log_path)
    try:
        yield gw
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            code = None
        log.close()
        assert code == 0, (
            f"gateway exited with {code} after SIGTERM; log tail:\n{log_path.read_text()[-3000:]}"
        )


class PeerFactory:
    """Spawns Rust peers for one test and stops them all at its end."""

    def __init__(self, gateway: Gateway, logs_dir: Path, test_name: str):
        self.gateway = gateway
        self.logs_dir = logs_dir
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]", "_", test_name)
        self.exe = binary("AETHER_INTEROP_PEER", "target/debug/examples/interop_peer")
        self.peers: List[RustPeer] = []

    def __call__(self, *args: str, timeout_secs: int = 30, ready: bool = True) -> RustPeer:
        """Starts a peer with `args`; waits for READY unless `ready=False`."""
        if not self.exe.exists():
            pytest.fail(f"peer binary {self.exe} missing: run `cargo build --example interop_peer`")
        log_path = self.logs_dir / f"{self.test_name}-peer{len(self.peers)}.log"
        peer = RustPeer(self.exe, self.gateway.url, list(args), log_path, timeout_secs)
        self.peers.append(peer)
        if ready:
            peer.wait_ready()
        return peer

    def stop_all(self) -> None:
        for peer in self.peers:
            if peer.proc.poll() is None:
                peer.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def rust_peer(gateway: Gateway, logs_dir: Path, request: pytest.FixtureRequest) -> Iterator[PeerFactory]:
    factory = PeerFactory(gateway, logs_dir, request.node.name)
    try:
        yield factory
    finally:
        factory.stop_all()
        call = getattr(request.node, "rep_call", None)
        if call is not None and call.failed:
            # Shown in the failure report: what the gateway logged lately.
            print(f"--- gateway log tail ({gateway.log_path}) ---")
            print(gateway.log_path.read_text(encoding="utf-8", errors="replace")[-4000:])


@pytest.fixture
def ws() -> str:
    """A workspace of this test's own."""
    return uid("ws")
