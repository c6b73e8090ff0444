"""On-behalf-of grants between official Python SDK agents on our gateway.

Our gateway runs outside dev mode (`--admin-key`). Two Python agents in
different workspaces connect with Agent tokens minted for their own
workspaces, so neither has rights in the other's. Alice exchanges an
authority grant naming Bob as its audience; Bob finds it among his grants,
Alice among the grants on her; a third agent can neither read nor revoke
it; Alice revokes it and Bob is told (`on_authority_grant_revocation`). The Python client correlates
every `authority_grant` reply by its request id.
"""

from __future__ import annotations

import asyncio

from scitrera_aether_client import AsyncAgentClient, AsyncUserClient, Credentials
from scitrera_aether_client.admin_async import AsyncAdminClient

from conftest import Gateway
from interop_support import WAIT, uid, wait_until
from test_tokens import connected, secured  # noqa: F401  (the fixture)


def test_python_agents_exchange_list_and_revoke_grants_on_our_gateway(secured):  # noqa: F811
    asyncio.run(scenario(*secured))


async def agent_with_token(admin: AsyncAdminClient, gateway: Gateway, ws: str, name: str):
    minted = await admin.create_token(f"{name} token", "Agent", workspace_patterns=[ws])
    assert minted is not None and minted.success, minted
    spec = uid(name)
    client = AsyncAgentClient(ws, "py", spec, credentials=Credentials.api_key(minted.plaintext_token),
                              tls_enabled=False)
    life = await connected(client, gateway.target)
    assert life.connected.is_set(), life.reasons
    return client, f"ag::{ws}::py::{spec}"


async def scenario(gateway: Gateway, key: str) -> None:
    root = AsyncUserClient("root", uid("console"), credentials=Credentials.api_key(key), tls_enabled=False)
    life = await connected(root, gateway.target)
    assert life.connected.is_set(), life.reasons
    admin = AsyncAdminClient(root)
    alice, alice_id = await agent_with_token(admin, gateway, uid("wa"), "alice")
    bob, bob_id = await agent_with_token(admin, gateway, uid("wb"), "bob")
    revocations = []
    bob.on_authority_grant_revocation = revocations.append

    exchanged = await alice.exchange_authority_grant(
        audience_type="agent", audience_id=bob_id, reason="interop", max_access_level=20
    )
    assert exchanged is not None and exchanged.success, exchanged
    grant = exchanged.grant
    assert grant.subject.principal_id == alice_id, grant
    assert grant.delegate.principal_id == bob_id, grant

    got = await bob.get_authority_grant(grant.grant_id)
    assert got is not None and got.success and got.grant.grant_id == grant.grant_id, got
    mine = await bob.list_my_authority_grants()
    assert mine is not None and [g.grant_id for g in mine.grants] == [grant.grant_id], mine
    on_me = await alice.list_authority_grants_on_me()
    assert on_me is not None and [g.grant_id for g in on_me.grants] == [grant.grant_id], on_me

    # A third agent can neither see nor revoke it; its subject can.
    carol, _ = await agent_with_token(admin, gateway, uid("wc"), "carol")
    hidden = await carol.get_authority_grant(grant.grant_id)
    assert hidden is not None and not hidden.success, hidden
    refused = await carol.revoke_authority_grant(grant.grant_id)
    assert refused is not None and not refused.success, refused
    revoked = await alice.revoke_authority_grant(grant.grant_id)
    assert revoked is not None and revoked.success and revoked.grant.revoked, revoked
    after = await bob.list_my_authority_grants()
    assert after is not None and list(after.grants) == [], after
    await wait_until(lambda: bool(revocations), WAIT, "the revocation push")
    assert revocations[0].grant_id == grant.grant_id
    for c in (alice, bob, carol, root):
        await c.close()
