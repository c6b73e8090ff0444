"""The Python SDK's sync `tunnel_dial` against a tunnel listener, run in a
process of its own: the SDK's tunnel hooks replace the async clients'
connect as well (python-sdk-api §1.22), so they must not leak into the
pytest process. Installs the hooks before connecting, as its docs require.

Usage: tunnel_dial_sync.py GATEWAY_TARGET TARGET_TOPIC SIZE
Sends SIZE bytes (byte i = i % 241), half-closes, reads everything back,
and prints `OK <bytes read> <bytes equal>` or `FAIL <error>`.
"""

from __future__ import annotations

import socket
import sys
import threading
import uuid

from scitrera_aether_client import AgentClient
from scitrera_aether_client import tunnel as aether_tunnel


def main() -> int:
    target, topic, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    aether_tunnel._ensure_hooks_installed()
    client = AgentClient("default", "py-tunnel", uuid.uuid4().hex[:10])
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect(target)
    if not connected.wait(20):
        print("FAIL not connected", flush=True)
        return 1
    data = bytes(i % 241 for i in range(size))
    try:
        t = client.tunnel_dial(topic, "tcp", "py-remote", metadata={"origin": "python"})
        sent = 0
        while sent < len(data):
            sent += t.write(data[sent : sent + 100_000])
        t.shutdown(socket.SHUT_WR)
        back = bytearray()
        while True:
            piece = t.read(65536)
            if not piece:
                break
            back += piece
        t.close()
    except Exception as e:  # reported to the test
        print(f"FAIL {type(e).__name__}: {e}", flush=True)
        return 1
    finally:
        client.close()
    print(f"OK {len(back)} {bytes(back) == data}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
