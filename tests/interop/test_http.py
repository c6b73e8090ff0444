"""HTTP and tunnels over Aether between the official Python SDK and ours,
through our gateway:

* Python's `proxy_http_async` and httpx transport against the Rust
  terminator (the `http_service` example: an axum Router);
* our reqwest middleware (the `http_client` example) against Python's
  `ProxyHttpTerminator`;
* Python's sync `tunnel_dial` against our tunnel listener (the
  `tunnel_service` example, forwarding to a TCP echo server).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from scitrera_aether_client import AsyncAgentClient, AsyncServiceClient
from scitrera_aether_client.httpx_transport import AetherAsyncHTTPXTransport
from scitrera_aether_client.proxy import ProxyError, proxy_http_async
from scitrera_aether_client.proxy_terminator import MintedRequest, ProxyHttpTerminator

from examples_support import Example, run_example
from interop_support import WAIT, Lifecycle, uid, wait_until

HERE = Path(__file__).resolve().parent


async def connected(client: Any, gateway: Any) -> Any:
    life = Lifecycle()
    life.attach(client)
    await client.connect(gateway.target)
    await wait_until(lambda: life.connected.is_set() or life.disconnected.is_set(), WAIT, "the handshake")
    assert life.connected.is_set(), life.reasons
    return client


@pytest.fixture
def http_service(gateway: Any, logs_dir: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    spec = uid("web")
    ex = Example(
        "http_service",
        ["--gateway", gateway.url, "--implementation", "web", "--specifier", spec],
        logs_dir / f"{request.node.name}-http_service.log",
    )
    try:
        ex.wait_for(f"serving sv::web::{spec}")
        yield f"sv::web::{spec}"
    finally:
        assert ex.stop() == 0, ex.tail()


def test_python_proxy_http_reaches_the_rust_terminator(gateway: Any, http_service: str) -> None:
    async def scenario() -> None:
        me = uid("py")
        agent = await connected(AsyncAgentClient("ws", "py-http", me, tls_enabled=False), gateway)
        try:
            hello = await proxy_http_async(agent, http_service, "GET", "/hello", timeout=10)
            assert hello.status_code == 200
            assert hello.body == b"hello from aether-rs"
            # A body over 256 KiB goes in chunks both ways.
            data = bytes(i % 251 for i in range(600 * 1024))
            echo = await proxy_http_async(
                agent, http_service, "POST", "/echo", {"content-type": "application/x-test"}, data, timeout=20
            )
            assert echo.status_code == 200
            assert echo.body == data
            assert echo.headers.get("content-type") == "application/x-test"
            # The caller, from the typed extension the terminator builds.
            caller = await proxy_http_async(agent, http_service, "GET", "/caller", timeout=10)
            assert json.loads(caller.body) == {"topic": f"ag::ws::py-http::{me}", "principal_type": "agent"}
            # Forged identity headers do not reach the handler.
            seen = await proxy_http_async(
                agent, http_service, "GET", "/headers", {"X-Aether-Caller-Topic": "ag::ws::evil::x"}, timeout=10
            )
            headers = json.loads(seen.body)
            assert headers["x-aether-caller-topic"] == f"ag::ws::py-http::{me}"
            status = await proxy_http_async(agent, http_service, "GET", "/status/418", timeout=10)
            assert status.status_code == 418
            # A streamed response, read as it arrives.
            streamed = await proxy_http_async(agent, http_service, "GET", "/stream/3", timeout=10, stream_response=True)
            got = b""
            async for piece in await streamed.aiter_bytes():
                got += piece
            assert got == b"chunk 0\nchunk 1\nchunk 2\n"
            # Large downloads arrive whole.
            big = await proxy_http_async(agent, http_service, "GET", "/bytes/3000000", timeout=30)
            assert big.body == bytes(i % 251 for i in range(3_000_000))
            with pytest.raises(ProxyError) as refused:
                await proxy_http_async(agent, "sv::web::nobody", "GET", "/hello", timeout=10)
            assert refused.value.code == "SIDECAR_UNAVAILABLE"
        finally:
            await agent.close()

    asyncio.run(scenario())


def test_python_httpx_transport_reaches_the_rust_terminator(gateway: Any, http_service: str) -> None:
    async def scenario() -> None:
        agent = await connected(AsyncAgentClient("ws", "py-httpx", uid("py"), tls_enabled=False), gateway)
        try:
            transport = AetherAsyncHTTPXTransport(agent, http_service, timeout=10)
            async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
                r = await http.get("/hello")
                assert r.status_code == 200 and r.text == "hello from aether-rs"
                r = await http.post("/echo", content=b"x" * 300_000, headers={"content-type": "text/plain"})
                assert r.status_code == 200 and r.content == b"x" * 300_000
                r = await http.get("/missing")
                assert r.status_code == 404
        finally:
            await agent.close()

    asyncio.run(scenario())


class PyTerminator:
    """A Python service whose `ProxyHttpTerminator` answers `/hello`,
    echoes `/echo` and reports who called on `/whoami`, on its own event
    loop thread, for as long as the test needs it."""

    def __init__(self, gateway: Any):
        self.spec = uid("py")
        self.topic = f"sv::pyweb::{self.spec}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: Any = None
        self.thread = threading.Thread(target=self._run, args=(gateway,), daemon=True)
        self.stopping: Any = None

    def _run(self, gateway: Any) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve(gateway))

    async def _serve(self, gateway: Any) -> None:
        self.stopping = asyncio.Event()
        try:
            svc = AsyncServiceClient("pyweb", self.spec, tls_enabled=False)

            async def handler(req: MintedRequest) -> Any:
                if req.path == "/hello":
                    return 200, {"content-type": "text/plain", "x-from": "python"}, b"hello from python"
                if req.path == "/echo":
                    return 200, {"content-type": req.headers.get("content-type", "")}, req.body
                if req.path == "/whoami":
                    return 200, {}, json.dumps(req.headers).encode()
                return 404, {}, b""

            terminator = ProxyHttpTerminator(svc, handler, header_mode="passthrough")
            await terminator.start()
            await connected(svc, gateway)
        except BaseException as e:  # surfaced to the test
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        await self.stopping.wait()
        await terminator.stop()
        await svc.close()

    def __enter__(self) -> "PyTerminator":
        self.thread.start()
        assert self.ready.wait(WAIT), "the Python terminator did not start"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(WAIT)


def test_the_rust_reqwest_middleware_reaches_the_python_terminator(gateway: Any, tmp_path: Path) -> None:
    with PyTerminator(gateway) as py:
        url = f"aether+sv://pyweb--{py.spec}"
        hello = run_example("http_client", ["--gateway", gateway.url, "-i", f"{url}/hello"])
        assert hello.returncode == 0, hello.stderr
        out = hello.stdout.decode()
        head, _, body = out.partition("\n\n")
        assert head.splitlines()[0] == "HTTP 200"
        assert "x-from: python" in head.splitlines()
        assert body == "hello from python"
        # 700 KiB up (chunked by our client, reassembled by Python) and back.
        data = "".join(chr(97 + i % 26) for i in range(700 * 1024))
        upload = tmp_path / "upload.txt"
        upload.write_text(data)
        echo = run_example(
            "http_client",
            ["--gateway", gateway.url, "-X", "POST", "-H", "Content-Type: text/x-test", "--data-file", str(upload), f"{url}/echo"],
        )
        assert echo.returncode == 0, echo.stderr
        assert echo.stdout.decode() == data
        small = run_example("http_client", ["--gateway", gateway.url, "-X", "POST", "-d", "ping", f"{url}/echo"])
        assert small.stdout.decode() == "ping"
        # The identity headers the gateway minted for our client.
        who = run_example("http_client", ["--gateway", gateway.url, f"{url}/whoami"])
        minted = json.loads(who.stdout)
        assert minted["X-Auth-Authority-Mode"] == "direct"
        assert minted["X-Aether-Caller-Topic"].startswith("ag::default::http-client::")
        # A target that is not connected: exit 1, the kind on stderr.
        offline = run_example("http_client", ["--gateway", gateway.url, "aether+sv://pyweb--nobody/hello"])
        assert offline.returncode == 1
        assert "SIDECAR_UNAVAILABLE" in offline.stderr.decode()


class EchoServer:
    """A TCP echo server on loopback (echoes until the client half-closes)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def test_python_sync_tunnel_dial_reaches_the_rust_listener(gateway: Any, logs_dir: Path) -> None:
    echo = EchoServer()
    spec = uid("tcp")
    ex = Example(
        "tunnel_service",
        ["--gateway", gateway.url, "--implementation", "tcp", "--specifier", spec, "--forward", f"127.0.0.1:{echo.port}"],
        logs_dir / "tunnel_service.log",
    )
    try:
        ex.wait_for(f"serving sv::tcp::{spec}")
        size = 3 * 1024 * 1024
        done = subprocess.run(
            [sys.executable, str(HERE / "tunnel_dial_sync.py"), gateway.target, f"sv::tcp::{spec}", str(size)],
            capture_output=True,
            timeout=120,
        )
        assert done.stdout.decode().strip() == f"OK {size} True", (done.stdout, done.stderr[-3000:], ex.tail())
    finally:
        code = ex.stop()
        echo.close()
    assert code == 0, ex.tail()


def test_the_rust_tunnel_client_reaches_the_rust_tunnel_service(gateway: Any, logs_dir: Path) -> None:
    echo = EchoServer()
    spec = uid("tcp")
    service = Example(
        "tunnel_service",
        ["--gateway", gateway.url, "--implementation", "tcp", "--specifier", spec, "--forward", f"127.0.0.1:{echo.port}"],
        logs_dir / "tunnel_service2.log",
    )
    client = None
    try:
        service.wait_for(f"serving sv::tcp::{spec}")
        client = Example(
            "tunnel_client",
            ["--gateway", gateway.url, "--target", f"sv::tcp::{spec}", "--listen", "127.0.0.1:0"],
            logs_dir / "tunnel_client.log",
        )
        line = client.wait_for("listening on ")
        port = int(line.rsplit(":", 1)[1])
        data = bytes(i % 239 for i in range(1_000_000))
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            back = bytearray()
            while True:
                piece = s.recv(65536)
                if not piece:
                    break
                back += piece
        assert bytes(back) == data
    finally:
        if client is not None:
            assert client.stop() == 0, client.tail()
        assert service.stop() == 0, service.tail()
        echo.close()
