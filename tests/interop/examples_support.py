"""Our examples as processes for the interop suite: started with their
flags, ready once they print their ready line, stopped with SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import List, Optional

from interop_support import binary


def example_binary(name: str) -> Path:
    """`target/debug/examples/<name>` (or under `AETHER_EXAMPLES_DIR`)."""
    base = os.environ.get("AETHER_EXAMPLES_DIR", "target/debug/examples")
    return binary("AETHER_EXAMPLE_" + name.upper(), f"{base}/{name}")


class Example:
    """A long-running example: `wait_for(prefix)` returns its first stdout
    line starting with `prefix`; `stop()` sends SIGTERM and returns the
    exit code."""

    def __init__(self, name: str, args: List[str], log_path: Path):
        exe = example_binary(name)
        if not exe.exists():
            raise AssertionError(f"{exe} missing: run `cargo build --all-features --examples`")
        self.argv = [str(exe), *args]
        self.log_path = log_path
        self._log = open(log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), "NO_COLOR": "1"},
        )
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{self.argv} printed no {prefix!r} in {timeout}s; {self.tail()}")
            if line is None:
                raise AssertionError(f"{self.argv} exited ({self.proc.wait()}) before {prefix!r}; {self.tail()}")
            if line.startswith(prefix):
                return line

    def tail(self) -> str:
        self._log.flush()
        return "stderr tail:\n" + self.log_path.read_text(encoding="utf-8")[-3000:]

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            code = None
        self._log.close()
        return code


def run_example(name: str, args: List[str], timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs a short-lived example to its end."""
    exe = example_binary(name)
    if not exe.exists():
        raise AssertionError(f"{exe} missing: run `cargo build --all-features --examples`")
    return subprocess.run(
        [str(exe), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), "NO_COLOR": "1"},
    )
