// The store's tokens end to end: Accounts' JWKS on its admin port, and a separate kit server
// (another service, verifying with AUTH_JWKS_URL as every service does) accepting Accounts'
// tokens, enforcing their scopes and roles, and following a key rotation.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "@obfy/kit/client";
import { createLogger, readServerConfig } from "@obfy/kit/core";
import { createServerSecurity, principalOf, SHOPPER_SCOPES } from "@obfy/kit/security";
import { createServer, defineService, type KitServer } from "@obfy/kit/server";
import { ordersV1, webhooksV1 } from "@obfy/protos";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { type AccountsHarness, rejects, startAccountsHarness } from "./fixtures/accounts-harness.js";
import { createTokenIssuer } from "./token-issuer.js";

const logger = createLogger({ name: "tokens-test", level: "silent" });

/**
 * A kit server standing in for Orders and Webhooks (neither runs in this test): the real
 * security from the environment every service reads, and handlers that answer who called.
 */
async function startVerifyingServer(jwksUrl: string): Promise<{ server: KitServer; address: string }> {
  const security = createServerSecurity({
    AUTH_JWKS_URL: jwksUrl,
    AUTH_ISSUER: "obfy-accounts",
    AUTH_AUDIENCE: "obfy",
  });
  const who = (context: Parameters<typeof principalOf>[0]) => {
    const p = principalOf(context);
    return `${p?.subject}|${p?.role}|${p?.email ?? ""}|${[...(p?.scopes ?? [])].sort().join(" ")}`;
  };
  const server = createServer({
    services: [
      defineService(
        { getOrder: ordersV1.OrdersServiceService.getOrder },
        {
          async getOrder(_request, context) {
            return { order: ordersV1.Order.fromPartial({ orderId: who(context) }) };
          },
        },
      ),
      defineService(
        { listSubscriptions: webhooksV1.WebhooksServiceService.listSubscriptions },
        {
          async listSubscriptions(_request, context) {
            return { subscriptions: [], nextPageToken: who(context) };
          },
        },
      ),
    ],
    logger,
    config: readServerConfig({ HOST: "127.0.0.1", PORT: "0" }),
    credentials: security.credentials,
    interceptors: security.interceptors,
  });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}` };
}

describe("tokens", () => {
  let h: AccountsHarness;
  let verifying: { server: KitServer; address: string };
  let orders: ReturnType<typeof createClient<typeof ordersV1.OrdersServiceService>>;
  let webhooks: ReturnType<typeof createClient<typeof webhooksV1.WebhooksServiceService>>;

  before(async () => {
    // The running service reads the key list again after 1 s (default 30 s), so a rotation made
    // by another instance shows in its JWKS without a long wait.
    h = await startAccountsHarness({ env: { SIGNING_KEY_CACHE_SECONDS: "1" } });
    verifying = await startVerifyingServer(h.jwksUrl);
    orders = createClient(ordersV1.OrdersServiceService, verifying.address, { logger, retry: false });
    webhooks = createClient(webhooksV1.WebhooksServiceService, verifying.address, { logger, retry: false });
  });
  after(async () => {
    orders?.close();
    webhooks?.close();
    await verifying?.server.shutdown();
    await h?.stop();
  });

  test("the JWKS on the admin port holds the ES256 public key, and no private part", async () => {
    const response = await fetch(h.jwksUrl);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /json/);
    const body = (await response.json()) as { keys: Record<string, unknown>[] };
    assert.equal(body.keys.length, 1);
    const [key] = body.keys;
    assert.deepEqual([key?.kty, key?.crv, key?.alg, key?.use], ["EC", "P-256", "ES256", "sig"]);
    assert.equal(typeof key?.kid, "string");
    assert.equal(key?.d, undefined, "the private scalar is never published");
    const metrics = await fetch(h.jwksUrl.replace("/.well-known/jwks.json", "/metrics"));
    assert.equal(metrics.status, 200, "the admin port still serves metrics");
    const post = await fetch(h.jwksUrl, { method: "POST" });
    assert.equal(post.status, 405);
  });

  test("an account token carries the documented claims and verifies against the JWKS", async () => {
    const signedIn = await h.signUp(`claims-${Date.now()}@example.com`);
    const token = signedIn.accessToken?.token ?? "";
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, "ES256");
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(h.jwksUrl)), {
      issuer: "obfy-accounts",
      audience: "obfy",
    });
    assert.equal(payload.sub, signedIn.account?.accountId);
    assert.equal(payload.role, "shopper");
    assert.equal(payload.email, signedIn.account?.email);
    assert.equal(payload.scope, SHOPPER_SCOPES.join(" "));
    assert.equal(payload.sid, signedIn.session?.sessionId);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);
    assert.equal(header.kid, ((await (await fetch(h.jwksUrl)).json()) as { keys: { kid: string }[] }).keys[0]?.kid);
  });

  test("another kit server accepts Accounts' tokens through AUTH_JWKS_URL and enforces their scopes", async () => {
    const signedIn = await h.signUp(`verified-${Date.now()}@example.com`);
    const metadata = h.bearer(signedIn.accessToken?.token ?? "");
    const order = await orders.getOrder({ orderId: "o-1" }, { metadata });
    assert.equal(
      order.order?.orderId,
      `${signedIn.account?.accountId}|shopper|${signedIn.account?.email}|${[...SHOPPER_SCOPES].sort().join(" ")}`,
    );
    // Shopper tokens do not carry webhooks:manage.
    await assert.rejects(
      webhooks.listSubscriptions({ pageSize: 0, pageToken: "" }, { metadata }),
      rejects("PERMISSION_DENIED", /webhooks:manage/),
    );
    // A token whose signature does not match is refused.
    const [head, body] = (signedIn.accessToken?.token ?? "").split(".");
    await assert.rejects(
      orders.getOrder({ orderId: "o-1" }, { metadata: h.bearer(`${head}.${body}.${"A".repeat(86)}`) }),
      rejects("UNAUTHENTICATED", "A valid bearer token is required"),
    );
  });

  test("a rotation publishes the new key before it signs; old tokens keep verifying until they expire", async () => {
    const signedIn = await h.signUp(`rotation-${Date.now()}@example.com`);
    const oldToken = signedIn.accessToken?.token ?? "";
    const oldKid = decodeProtectedHeader(oldToken).kid;
    const database = h.service.database;
    assert.ok(database);
    // The step every replica's maintenance runs, forced (the rotation age is 30 days), with the
    // default publication delay of 15 minutes.
    const issuer = createTokenIssuer({
      database,
      issuer: "obfy-accounts",
      audience: "obfy",
      ttlSeconds: 300,
      policy: { rotationDays: 30, publishSeconds: 900, cacheSeconds: 0 },
    });
    const account = {
      accountId: signedIn.account?.accountId ?? "",
      email: signedIn.account?.email ?? "",
      role: "shopper" as const,
      sessionId: signedIn.session?.sessionId ?? "",
    };
    const newKid = await issuer.rotate({ force: true });
    assert.ok(newKid !== undefined && newKid !== oldKid);
    assert.equal(await issuer.rotate(), undefined, "not due again");
    const keys = await h.db.selectFrom("signing_keys").select(["kid", "activate_at", "retire_at"]).execute();
    assert.equal(keys.length, 2);
    const oldRow = keys.find((k) => k.kid === oldKid);
    const newRow = keys.find((k) => k.kid === newKid);
    assert.ok(oldRow?.retire_at && newRow);
    assert.ok(newRow.activate_at.getTime() - Date.now() > 890_000, "signs in 15 minutes");
    assert.ok(oldRow.retire_at.getTime() - newRow.activate_at.getTime() >= 300_000, "old key outlives its tokens");

    // Published at once, still signing with the old key.
    assert.deepEqual((await issuer.jwks()).keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
    assert.equal(decodeProtectedHeader((await issuer.issueAccountToken(account)).token).kid, oldKid);

    // 15 minutes later (moved in the database): the new key signs. Its activation is moved to
    // between the old key's and now: "now - 1 s" lost to the old key when the file's first key
    // had been made less than a second before (a fresh-clone run did).
    const activated = oldRow.activate_at.getTime() + (Date.now() - oldRow.activate_at.getTime()) / 2;
    await h.db
      .updateTable("signing_keys")
      .set({ activate_at: new Date(activated) })
      .where("kid", "=", newKid)
      .execute();
    issuer.reload();
    const fresh = await issuer.issueAccountToken(account);
    assert.equal(decodeProtectedHeader(fresh.token).kid, newKid);
    // A verifier whose cached JWKS is older than the new key (the kit caches up to 10 minutes)
    // takes both the new tokens and the old ones.
    // The running service shows the new key once its key cache (1 s here) has expired.
    const deadline = Date.now() + 10_000;
    while (!(await (await fetch(h.jwksUrl)).text()).includes(newKid)) {
      assert.ok(Date.now() < deadline, "the service's JWKS shows the new key");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const later = await startVerifyingServer(h.jwksUrl);
    const client = createClient(ordersV1.OrdersServiceService, later.address, { logger, retry: false });
    try {
      for (const token of [fresh.token, oldToken]) {
        const answer = await client.getOrder({ orderId: "o" }, { metadata: h.bearer(token) });
        assert.ok(answer.order?.orderId.startsWith(`${account.accountId}|`));
      }
    } finally {
      client.close();
      await later.server.shutdown();
    }

    // Once retired, the old key leaves the JWKS.
    await h.db
      .updateTable("signing_keys")
      .set({ retire_at: new Date(Date.now() - 1000) })
      .where("kid", "=", oldKid ?? "")
      .execute();
    issuer.reload();
    assert.deepEqual(
      (await issuer.jwks()).keys.map((k) => k.kid),
      [newKid],
    );
  });
});
