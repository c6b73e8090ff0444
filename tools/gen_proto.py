#!/usr/bin/env python3
"""Writes proto/aether/v1/*.proto from the published wire description.

The wire description (one line per message, field, oneof and enum) is the
source of facts; this script only renders it as proto3 and attaches our own
comments from COMMENTS below. Run it again when the protocol description
changes, then check with `../shared/tools/wire-compat proto`.
Usage: tools/gen_proto.py WIRE_TXT OUT_DIR
"""
import re
import sys

COMMENTS = {
    "AetherGateway": "The gateway speaks one bidirectional stream per client; every request,\nreply and push is multiplexed over it.",
    "UpstreamMessage": "Everything a client sends. The first frame of a stream must be `init`.",
    "DownstreamMessage": "Everything the gateway sends: correlated replies (matched by request id)\nand pushes (messages, assignments, signals, configuration).",
    "ConnectionAck": "First frame after a successful handshake.",
    "InitConnection": "Handshake: who the client is, how it authenticates, which session it resumes.",
    "SendMessage": "Route a payload to a topic; success is silent, failures come back as ErrorResponse.",
    "IncomingMessage": "A message delivered to this client.",
    "KVOperation": "One key-value operation; replies arrive as KVResponse with the same request id.",
    "KVResponse": "Reply to a KVOperation.",
    "ErrorResponse": "An in-stream failure; `request_id` names the request it answers, when there is one.",
    "Signal": "Connection-level notice from the gateway.",
    "ConfigSnapshot": "Baseline configuration pushed to agents and tasks right after the ack.",
    "Metric": "Payload of METRIC messages: additive entries plus tags.",
    "CreateTaskRequest": "Create a task; answered by CreateTaskResponse when `request_id` is set.",
    "TaskAssignment": "A task pushed to its worker or to an orchestrator.",
    "CheckpointOperation": "Save, load, list or delete a checkpoint of the calling identity.",
    "TaskEvent": "One event on a task subscription.",
    "ProxyHttpRequest": "HTTP request carried over the stream to a service principal.",
    "TunnelOpen": "Open a byte tunnel to a target principal.",
    "TunnelFrame": "A frame of the sandbox relay tunnel.",
    "SandboxRelayTunnel": "Relay surface used by proxy sidecars.",
}


def parse(path):
    files = []
    cur = None
    block = None
    for raw in open(path):
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        m = re.match(r"# file (\S+)\s+package (\S+)\s+syntax (\S+)", line)
        if m:
            cur = {"name": m.group(1), "package": m.group(2), "imports": [], "items": []}
            files.append(cur)
            continue
        m = re.match(r"# imports (\S+)", line)
        if m:
            cur["imports"].append(m.group(1))
            continue
        m = re.match(r"service (\w+)", line)
        if m:
            block = {"kind": "service", "name": m.group(1), "rpcs": []}
            cur["items"].append(block)
            continue
        m = re.match(r"\s+rpc (\w+)\((stream )?(\w+)\) -> (stream )?(\w+)", line)
        if m:
            block["rpcs"].append(m.groups())
            continue
        m = re.match(r"(\s*)enum (\w+) \{ (.*) \}", line)
        if m:
            values = [v.split("=") for v in m.group(3).split(", ")]
            enum = {"kind": "enum", "name": m.group(2), "values": values}
            if m.group(1):
                block["enums"].append(enum)
            else:
                cur["items"].append(enum)
            continue
        m = re.match(r"message (\w+)", line)
        if m:
            block = {"kind": "message", "name": m.group(1), "enums": [], "members": []}
            cur["items"].append(block)
            oneof = None
            continue
        m = re.match(r"  oneof (\w+):", line)
        if m:
            oneof = {"oneof": m.group(1), "fields": []}
            block["members"].append(oneof)
            continue
        m = re.match(r"(\s+)(\d+) (\w+): (.+)", line)
        if m:
            indent, num, name, typ = m.groups()
            field = {"num": num, "name": name, "type": typ}
            if len(indent) + len(num) >= 7 and oneof is not None:
                oneof["fields"].append(field)
            else:
                oneof = None
                block["members"].append(field)
            continue
        raise SystemExit(f"unparsed line: {line!r}")
    return files


def comment(name, indent=""):
    text = COMMENTS.get(name)
    if not text:
        return ""
    return "".join(f"{indent}// {l}\n" for l in text.split("\n"))


def render_type(t):
    m = re.match(r"map<(\w+), (\w+)>", t)
    if m:
        return f"map<{m.group(1)}, {m.group(2)}>"
    if t.startswith("repeated "):
        return t
    return t


def render(f):
    out = [
        "// Aether v1 wire protocol. Written for aether-rs from the published protocol\n",
        "// description; field numbers, types and enum values are the contract.\n",
        'syntax = "proto3";\n\n',
        f"package {f['package']};\n\n",
    ]
    for imp in f["imports"]:
        out.append(f'import "aether/v1/{imp}";\n\n')
    for item in f["items"]:
        out.append(comment(item["name"]))
        if item["kind"] == "service":
            out.append(f"service {item['name']} {{\n")
            for name, cs, inp, ss, outp in item["rpcs"]:
                out.append(f"  rpc {name}({cs or ''}{inp}) returns ({ss or ''}{outp});\n")
            out.append("}\n\n")
        elif item["kind"] == "enum":
            out.append(render_enum(item, ""))
        else:
            out.append(f"message {item['name']} {{\n")
            for e in item["enums"]:
                out.append(render_enum(e, "  "))
            for mem in item["members"]:
                if "oneof" in mem:
                    out.append(f"  oneof {mem['oneof']} {{\n")
                    for fld in mem["fields"]:
                        out.append(f"    {render_type(fld['type'])} {fld['name']} = {fld['num']};\n")
                    out.append("  }\n")
                else:
                    out.append(f"  {render_type(mem['type'])} {mem['name']} = {mem['num']};\n")
            out.append("}\n\n")
    return "".join(out).rstrip() + "\n"


def render_enum(e, indent):
    s = f"{indent}enum {e['name']} {{\n"
    for name, num in e["values"]:
        s += f"{indent}  {name} = {num};\n"
    return s + f"{indent}}}\n" + ("\n" if not indent else "")


def main():
    wire, out_dir = sys.argv[1], sys.argv[2]
    for f in parse(wire):
        with open(f"{out_dir}/{f['name']}", "w") as fh:
            fh.write(render(f))


if __name__ == "__main__":
    main()
