"""Helpers for the interop suite: the Rust peer process and message inboxes.

Every wait here is bounded by a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import scitrera_aether_client as aether

REPO_ROOT = Path(__file__).resolve().parents[2]

# How long one expected observation may take to show up.
WAIT = 10.0

TYPE_NAMES = {
    aether.MESSAGE_TYPE_UNSPECIFIED: "UNSPECIFIED",
    aether.CHAT: "CHAT",
    aether.CONTROL: "CONTROL",
    aether.TOOL_CALL: "TOOL_CALL",
    aether.EVENT: "EVENT",
    aether.METRIC: "METRIC",
    aether.OPAQUE: "OPAQUE",
}


def uid(prefix: str = "t") -> str:
    """A short unique identity segment, so tests never share identities."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def binary(env_var: str, default: str) -> Path:
    """The path of a binary from `env_var`, else `default` under the repo."""
    value = os.environ.get(env_var)
    path = Path(value) if value else REPO_ROOT / default
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


# --------------------------------------------------------------------------
# Messages received by Python clients
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Got:
    """One message as one Python handler saw it."""

    handler: str
    source: str
    payload: bytes
    message_type: int
    workspace: str

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.message_type, str(self.message_type))

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")


class Inbox:
    """Thread-safe record of what Python handlers received."""

    def __init__(self) -> None:
        self._items: List[Got] = []
        self._cv = threading.Condition()

    def handler(self, name: str) -> Callable[[Any], None]:
        """A plain-function callback recording messages under `name`."""

        def record(msg: Any) -> None:
            self.put(
                Got(
                    handler=name,
                    source=msg.source_topic,
                    payload=bytes(msg.payload),
                    message_type=msg.message_type,
                    workspace=msg.workspace,
                )
            )

        return record

    def put(self, item: Got) -> None:
        with self._cv:
            self._items.append(item)
            self._cv.notify_all()

    def items(self, handler: Optional[str] = None) -> List[Got]:
        with self._cv:
            return [g for g in self._items if handler is None or g.handler == handler]

    def _matching(self, pred: Callable[[Got], bool]) -> List[Got]:
        return [g for g in self._items if pred(g)]

    def wait_for(
        self, pred: Callable[[Got], bool], count: int = 1, timeout: float = WAIT, what: str = ""
    ) -> List[Got]:
        """Blocks until `count` recorded messages match `pred`."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                found = self._matching(pred)
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} x {what or pred}; "
                        f"got {self._items!r}"
                    )
                self._cv.wait(left)

    async def await_for(
        self, pred: Callable[[Got], bool], count: int = 1, timeout: float = WAIT, what: str = ""
    ) -> List[Got]:
        """Like `wait_for`, without blocking the event loop (async handlers
        run on it): a short poll on the condition, bounded by a deadline."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cv:
                found = self._matching(pred)
                if len(found) >= count:
                    return found
                snapshot = list(self._items)
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} x {what or pred}; "
                    f"got {snapshot!r}"
                )
            await asyncio.sleep(0.02)


def has(handler: Optional[str] = None, payload: Optional[str] = None, **kw: Any) -> Callable[[Got], bool]:
    """A predicate over `Got`: handler, payload text, and attribute equalities."""

    def pred(g: Got) -> bool:
        if handler is not None and g.handler != handler:
            return False
        if payload is not None and g.text != payload:
            return False
        return all(getattr(g, k) == v for k, v in kw.items())

    pred.__name__ = f"has(handler={handler!r}, payload={payload!r}, {kw!r})"
    return pred


class Lifecycle:
    """Records `on_connect` / `on_disconnect` of a Python client."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.reasons: List[str] = []

    def attach(self, client: Any) -> None:
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    def _on_connect(self) -> None:
        self.connected.set()

    def _on_disconnect(self, reason: str) -> None:
        self.reasons.append(reason)
        self.disconnected.set()

    def wait_connected(self, timeout: float = WAIT) -> None:
        if not self.connected.wait(timeout):
            raise AssertionError(
                f"the Python client saw no handshake within {timeout}s (disconnects: {self.reasons})"
            )

    async def await_connected(self, timeout: float = WAIT) -> None:
        await wait_until(self.connected.is_set, timeout, "the Python client's handshake")


async def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls `cond` on the event loop until true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def poll_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Blocking twin of `wait_until` for sync tests."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------
# The Rust peer process
# --------------------------------------------------------------------------


@dataclass
class Record:
    """One line the peer printed, parsed."""

    tag: str  # READY, EVENT, ERROR, EXIT, or OTHER
    raw: str
    data: Dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def parse_line(line: str) -> Record:
    tag, _, rest = line.partition(" ")
    if tag == "EVENT":
        try:
            return Record("EVENT", line, json.loads(rest))
        except json.JSONDecodeError:
            return Record("OTHER", line)
    if tag == "READY":
        return Record("READY", line, {"identity": rest})
    if tag == "ERROR":
        kind, _, message = rest.partition(" ")
        return Record("ERROR", line, {"error_kind": kind, "message": message})
    if tag == "EXIT":
        return Record("EXIT", line, {"reason": rest})
    return Record("OTHER", line)


class RustPeer:
    """A running `interop_peer` with its stdout parsed line by line."""

    def __init__(self, exe: Path, gateway_url: str, args: List[str], log_path: Path, timeout_secs: int = 30):
        self.argv = [str(exe), "--gateway", gateway_url, "--timeout-secs", str(timeout_secs), *args]
        self.log_path = log_path
        self._log = open(log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), "NO_COLOR": "1"},
        )
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.records: List[Record] = []
        self._claimed: set = set()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.identity: Optional[str] = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pull(self, timeout: float) -> bool:
        """Moves one line from the reader into `records`; False on timeout/EOF."""
        if self._eof:
            return False
        try:
            line = self._lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return False
        if line is None:
            self._eof = True
            return False
        self.records.append(parse_line(line))
        return True

    def _describe(self) -> str:
        self._log.flush()
        try:
            stderr = self.log_path.read_text(encoding="utf-8")[-3000:]
        except OSError:
            stderr = "<no log>"
        lines = "\n".join(r.raw for r in self.records[-40:])
        return f"peer {self.argv}\n--- stdout ---\n{lines}\n--- stderr (tail) ---\n{stderr}"

    def expect(self, pred: Callable[[Record], bool], timeout: float = WAIT, what: str = "") -> Record:
        """The first not-yet-claimed line matching `pred`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while True:
            for i in range(scanned, len(self.records)):
                if i not in self._claimed and pred(self.records[i]):
                    self._claimed.add(i)
                    return self.records[i]
            scanned = len(self.records)
            left = deadline - time.monotonic()
            if left <= 0 or (self._eof and self._lines.empty()):
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what or pred} "
                    f"(peer exited: {self.proc.poll()})\n{self._describe()}"
                )
            self._pull(min(left, 0.5))

    def expect_event(self, kind: str, timeout: float = WAIT, **fields: Any) -> Record:
        def pred(r: Record) -> bool:
            return r.tag == "EVENT" and r.get("kind") == kind and all(r.get(k) == v for k, v in fields.items())

        return self.expect(pred, timeout, f"EVENT kind={kind} {fields}")

    def expect_message(self, timeout: float = WAIT, **fields: Any) -> Record:
        return self.expect_event("message", timeout, **fields)

    def wait_ready(self, timeout: float = 20.0) -> str:
        rec = self.expect(lambda r: r.tag in ("READY", "ERROR"), timeout, "READY")
        if rec.tag == "ERROR":
            raise AssertionError(f"peer failed to connect: {rec.raw}\n{self._describe()}")
        self.identity = rec.get("identity")
        return self.identity

    def connected_event(self) -> Record:
        return self.expect_event("connected")

    def command(self, line: str) -> None:
        """Writes one command line to the peer's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def run(self, line: str, timeout: float = WAIT) -> Record:
        """Sends a command and waits for its `ok` (fails on `command-error`)."""
        verb = line.split(" ", 1)[0]
        self.command(line)
        rec = self.expect(
            lambda r: r.tag == "EVENT"
            and (
                (r.get("kind") == "ok" and r.get("command") == verb)
                or (r.get("kind") == "command-error" and r.get("command", "").startswith(verb))
            ),
            timeout,
            f"result of {line!r}",
        )
        if rec.get("kind") != "ok":
            raise AssertionError(f"peer command {line!r} failed: {rec.raw}")
        return rec

    def records_matching(self, pred: Callable[[Record], bool]) -> List[Record]:
        """Lines received so far (without waiting) that match `pred`."""
        while self._pull(0):
            pass
        return [r for r in self.records if pred(r)]

    def stop(self, timeout: float = 10.0) -> int:
        """Closes stdin (the peer exits on EOF), then escalates if needed."""
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait(5)
        self._reader.join(5)
        while self._pull(0):
            pass
        self._log.close()
        return code

    def wait_exit(self, timeout: float = WAIT) -> int:
        """Waits for the peer to exit by itself."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"peer did not exit within {timeout}s\n{self._describe()}") from e
        self._reader.join(5)
        while self._pull(0):
            pass
        return code


# --------------------------------------------------------------------------
# Objects pushed to Python callbacks (task assignments, progress updates)
# --------------------------------------------------------------------------


class Recorder:
    """Thread-safe record of what one Python callback slot received (sync
    clients call it on their listener thread, async ones on the loop)."""

    def __init__(self) -> None:
        self._items: List[Any] = []
        self._lock = threading.Lock()

    def put(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)

    def items(self) -> List[Any]:
        with self._lock:
            return list(self._items)

    async def await_for(self, pred: Callable[[Any], bool], timeout: float = WAIT, what: str = "") -> Any:
        """The first recorded item matching `pred`, polling on the event
        loop until a deadline."""
        deadline = time.monotonic() + timeout
        while True:
            found = [i for i in self.items() if pred(i)]
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what or pred}; got {self.items()!r}"
                )
            await asyncio.sleep(0.02)
