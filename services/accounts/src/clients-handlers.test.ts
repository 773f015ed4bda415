// OAuth2 clients against real PostgreSQL: an admin registers a client, the client-credentials
// grant exchanges id and secret for a scoped token, revocation ends it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CLIENT_SCOPES } from "@obfy/kit/security";
import { clientsV1 } from "@obfy/protos";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { type AccountsHarness, rejects, startAccountsHarness } from "./fixtures/accounts-harness.js";
import { hashSecret } from "./secrets.js";

const ADMIN = { email: "root@shop.example", password: "a long admin passphrase" };

describe("ClientsService", () => {
  let h: AccountsHarness;
  let admin: { metadata: { authorization: string } };
  let shopper: { metadata: { authorization: string } };

  before(async () => {
    h = await startAccountsHarness({ env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } });
    const signedIn = (await h.accounts.signIn({ email: ADMIN.email, password: ADMIN.password })).signedIn;
    admin = { metadata: h.bearer(signedIn?.accessToken?.token ?? "") };
    shopper = { metadata: h.bearer((await h.signUp("shopper@example.com")).accessToken?.token ?? "") };
  });
  after(() => h?.stop());

  const create = (displayName: string, allowedScopes: string[]) =>
    h.clients.createClient({ client: clientsV1.Client.fromPartial({ displayName, allowedScopes }) }, admin);

  test("an admin registers a client; its secret is shown once and stored only as a hash", async () => {
    const created = await create("Partner Bookshop", ["orders:read", "orders:write"]);
    assert.match(created.client?.clientId ?? "", /^cli_[A-Za-z0-9_-]{22}$/);
    assert.match(created.clientSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(created.client?.allowedScopes, ["orders:read", "orders:write"]);
    const adminId = (await h.accounts.getAccount({ accountId: "me" }, admin)).account?.accountId;
    assert.equal(created.client?.createdBy, adminId);
    assert.equal(created.client?.revokeTime, undefined);
    const row = await h.db
      .selectFrom("clients")
      .selectAll()
      .where("id", "=", created.client?.clientId ?? "")
      .executeTakeFirstOrThrow();
    assert.deepEqual(row.secret_hash, hashSecret(created.clientSecret));
    const listed = await h.clients.listClients({ pageSize: 0, pageToken: "" }, admin);
    assert.ok(!JSON.stringify(listed).includes(created.clientSecret), "never listed again");
  });

  test("only admins manage clients", async () => {
    await assert.rejects(
      h.clients.createClient(
        { client: clientsV1.Client.fromPartial({ displayName: "x", allowedScopes: ["orders:read"] }) },
        shopper,
      ),
      rejects("PERMISSION_DENIED", "This needs an admin account"),
    );
    await assert.rejects(h.clients.listClients({ pageSize: 0, pageToken: "" }, shopper), rejects("PERMISSION_DENIED"));
    await assert.rejects(h.clients.listClients({ pageSize: 0, pageToken: "" }), rejects("UNAUTHENTICATED"));
  });

  test("unknown scopes and bad names are refused, naming them", async () => {
    await assert.rejects(
      create("A", ["orders:read", "books:delete"]),
      rejects("INVALID_ARGUMENT", /^Unknown scope: "books:delete"/),
    );
    await assert.rejects(
      create("A", []),
      rejects("INVALID_ARGUMENT", "client.allowed_scopes must hold at least one scope"),
    );
    await assert.rejects(create("  ", ["orders:read"]), rejects("INVALID_ARGUMENT", "client.display_name is required"));
    await assert.rejects(
      create("n".repeat(101), ["orders:read"]),
      rejects("INVALID_ARGUMENT", "client.display_name must be at most 100 characters"),
    );
    await assert.rejects(h.clients.createClient({}, admin), rejects("INVALID_ARGUMENT", "client is required"));
    const every = await create("Everything", [...CLIENT_SCOPES]);
    assert.deepEqual(every.client?.allowedScopes, [...CLIENT_SCOPES]);
  });

  test("IssueClientToken: all allowed scopes by default, a subset on request, more is refused", async () => {
    const { client, clientSecret } = await create("Reading App", ["orders:read", "webhooks:manage"]);
    const clientId = client?.clientId ?? "";
    const all = await h.clients.issueClientToken({ clientId, clientSecret, scopes: [] });
    assert.equal(all.scope, "orders:read webhooks:manage");
    const { payload } = await jwtVerify(all.accessToken?.token ?? "", createRemoteJWKSet(new URL(h.jwksUrl)), {
      issuer: "obfy-accounts",
      audience: "obfy",
    });
    assert.deepEqual(
      [payload.sub, payload.role, payload.scope, payload.email],
      [clientId, "client", "orders:read webhooks:manage", undefined],
    );
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);

    const some = await h.clients.issueClientToken({ clientId, clientSecret, scopes: ["orders:read"] });
    assert.equal(some.scope, "orders:read");
    const spaced = await h.clients.issueClientToken({
      clientId,
      clientSecret,
      scopes: ["orders:read webhooks:manage"],
    });
    assert.equal(spaced.scope, "orders:read webhooks:manage");
    await assert.rejects(
      h.clients.issueClientToken({ clientId, clientSecret, scopes: ["orders:read", "orders:write"] }),
      rejects("PERMISSION_DENIED", "Scope not allowed for this client: orders:write"),
    );
    await assert.rejects(
      h.clients.issueClientToken({ clientId, clientSecret, scopes: ["made:up"] }),
      rejects("PERMISSION_DENIED", "Scope not allowed for this client: made:up"),
    );
  });

  test("a wrong secret, an unknown id and a revoked client get the same error", async () => {
    const { client, clientSecret } = await create("Soon Revoked", ["orders:read"]);
    const clientId = client?.clientId ?? "";
    const invalid = rejects("UNAUTHENTICATED", "Invalid client credentials");
    await assert.rejects(
      h.clients.issueClientToken({ clientId, clientSecret: `${clientSecret}x`, scopes: [] }),
      invalid,
    );
    await assert.rejects(h.clients.issueClientToken({ clientId: "cli_nope", clientSecret, scopes: [] }), invalid);
    await assert.rejects(
      h.clients.issueClientToken({ clientId, clientSecret: "", scopes: [] }),
      rejects("INVALID_ARGUMENT", "client_secret is required"),
    );
    const revoked = await h.clients.revokeClient({ clientId }, admin);
    assert.ok(revoked.client?.revokeTime);
    const again = await h.clients.revokeClient({ clientId }, admin);
    assert.deepEqual(again.client?.revokeTime, revoked.client?.revokeTime, "revoked once, for good");
    await assert.rejects(h.clients.issueClientToken({ clientId, clientSecret, scopes: [] }), invalid);
    await assert.rejects(
      h.clients.revokeClient({ clientId: "cli_nope" }, admin),
      rejects("NOT_FOUND", "Client not found"),
    );
  });

  test("ListClients pages newest first", async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await create(`Paged ${i}`, ["orders:read"])).client?.clientId ?? "");
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await h.clients.listClients({ pageSize: 2, pageToken }, admin);
      assert.ok(page.clients.length <= 2);
      seen.push(...page.clients.map((c) => c.clientId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(seen.slice(0, 5), [...made].reverse());
    const total = await h.db.selectFrom("clients").select("id").execute();
    assert.equal(seen.length, total.length);
    await assert.rejects(
      h.clients.listClients({ pageSize: 2, pageToken: "garbage" }, admin),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(
      h.clients.listClients({ pageSize: 101, pageToken: "" }, admin),
      rejects("INVALID_ARGUMENT", "page_size must be between 0 and 100"),
    );
  });
});
