"""The official Python `AsyncAdminClient` administering our gateway.

Our gateway runs outside dev mode (`--admin-key`): a Python user window
authenticated with the admin key creates a workspace (listed before anyone
connects to it), mints a token for a Python agent, grants, lists and
deletes an ACL rule naming that agent (which may not grant itself
anything), and registers an agent implementation. The Python SDK reads
our typed replies by type, in order.
"""

from __future__ import annotations

import asyncio

from scitrera_aether_client import AsyncAgentClient, AsyncUserClient, Credentials
from scitrera_aether_client.admin_async import AsyncAdminClient

from conftest import Gateway
from interop_support import uid
from test_tokens import connected, secured  # noqa: F401  (the fixture)


def test_the_python_admin_client_administers_our_gateway(secured):  # noqa: F811
    asyncio.run(scenario(*secured))


async def scenario(gateway: Gateway, key: str) -> None:
    ws, other = uid("ws"), uid("other")
    root = AsyncUserClient("root", uid("console"), credentials=Credentials.api_key(key), tls_enabled=False)
    life = await connected(root, gateway.target)
    assert life.connected.is_set(), life.reasons
    admin = AsyncAdminClient(root)

    created = await admin.create_workspace(other, display_name="Other")
    assert created is not None and created.success, created
    listed = await admin.list_workspaces()
    assert listed is not None and other in [w.workspace_id for w in listed.workspaces], listed
    got = await admin.get_workspace(other)
    assert got is not None and got.workspace.display_name == "Other", got

    minted = await admin.create_token("py agent", "Agent", workspace_patterns=[ws])
    assert minted is not None and minted.success, minted
    spec = uid("a")
    identity = f"ag::{ws}::py::{spec}"
    agent = AsyncAgentClient(ws, "py", spec, credentials=Credentials.api_key(minted.plaintext_token),
                             tls_enabled=False)
    alife = await connected(agent, gateway.target)
    assert alife.connected.is_set(), alife.reasons

    # The agent may not grant itself another workspace ...
    refused = await AsyncAdminClient(agent).create_acl_rule("agent", identity, "workspace", other, 20)
    assert refused is not None and not refused.success, refused
    # ... the administrator may.
    granted = await admin.create_acl_rule("agent", identity, "workspace", other, 20, reason="interop")
    assert granted is not None and granted.success, granted
    rule_id = granted.rule.rule_id
    rules = await admin.list_acl_rules(principal_type="agent", principal_id=identity)
    assert rules is not None and [r.rule_id for r in rules.rules] == [rule_id], rules
    assert rules.rules[0].reason == "interop"
    deleted = await admin.delete_acl_rule(rule_id)
    assert deleted is not None and deleted.success, deleted
    rules = await admin.list_acl_rules(principal_type="agent", principal_id=identity)
    assert rules is not None and list(rules.rules) == [], rules

    impl = uid("impl")
    registered = await admin.register_agent(impl, description="interop", launch_params={"profile": "local"})
    assert registered is not None and registered.success, registered
    found = await admin.get_agent(impl)
    assert found is not None and found.success and found.agent.description == "interop", found
    for c in (agent, root):
        await c.close()
