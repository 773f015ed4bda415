// The AccountsService against real PostgreSQL, through gRPC, with its tokens verified by the
// kit's verifier against its own JWKS.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { readStatusDetails } from "@obfy/kit/core";
import { accountsV1, googleRpcErrorDetails } from "@obfy/protos";
import { type AccountsHarness, GOOD_PASSWORD, rejects, startAccountsHarness } from "./fixtures/accounts-harness.js";
import { hashSecret } from "./secrets.js";

function fieldViolations(error: unknown): { field: string; description: string }[] {
  assert.ok(error instanceof ClientError);
  const details = readStatusDetails(error.metadata);
  const any = details.find((d) => d.typeUrl.endsWith("google.rpc.BadRequest"));
  assert.ok(any, "a google.rpc.BadRequest detail");
  return googleRpcErrorDetails.BadRequest.decode(any.value).fieldViolations;
}

describe("AccountsService", () => {
  let h: AccountsHarness;
  let n = 0;
  const unique = (name = "user") => `${name}-${++n}-${Date.now()}@example.com`;

  before(async () => {
    h = await startAccountsHarness();
  });
  after(() => h?.stop());

  test("SignUp creates a shopper and signs it in: session, token, account", async () => {
    const email = unique();
    const signedIn = await h.signUp(email);
    assert.equal(signedIn.account?.email, email);
    assert.equal(signedIn.account?.role, accountsV1.Role.ROLE_SHOPPER);
    assert.match(signedIn.account?.accountId ?? "", /^[0-9a-f-]{36}$/);
    assert.match(signedIn.sessionToken, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(signedIn.session?.userAgent, "harness");
    assert.ok(signedIn.accessToken?.token.split(".").length === 3);
    const expires = (signedIn.accessToken?.expireTime?.seconds ?? 0) * 1000 - Date.now();
    assert.ok(expires > 290_000 && expires <= 301_000, `token lives 5 minutes (${expires} ms)`);

    // Only the hash of the session token is stored; the password only as argon2id.
    const row = await h.db.selectFrom("accounts").selectAll().where("email", "=", email).executeTakeFirstOrThrow();
    assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(!row.password_hash.includes(GOOD_PASSWORD));
    const session = await h.db
      .selectFrom("sessions")
      .selectAll()
      .where("account_id", "=", row.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(session.token_hash, hashSecret(signedIn.sessionToken));

    // The token is accepted by the kit's verifier: GetAccount("me") needs a valid token.
    const me = await h.accounts.getAccount(
      { accountId: "me" },
      { metadata: h.bearer(signedIn.accessToken?.token ?? "") },
    );
    assert.deepEqual(me.account, signedIn.account);
  });

  test("emails are normalised: another spelling signs in, and cannot sign up again", async () => {
    const base = `Ren\u0065\u0301-${++n}@Example.COM`;
    const signedIn = await h.signUp(`  ${base} `);
    const normalised = base.toLowerCase().normalize("NFC");
    assert.equal(signedIn.account?.email, normalised);
    const again = await h.accounts.signIn({ email: base.normalize("NFC").toUpperCase(), password: GOOD_PASSWORD });
    assert.equal(again.signedIn?.account?.accountId, signedIn.account?.accountId);
    await assert.rejects(h.signUp(normalised), rejects("ALREADY_EXISTS", "An account with this email already exists"));
  });

  test("concurrent sign-ups of one address, in different spellings on two replicas: exactly one account", async () => {
    const replica = await h.startReplica();
    const local = `race-${++n}`;
    const spellings = [`${local}@example.com`, ` ${local.toUpperCase()}@EXAMPLE.com`, `${local}@Example.Com `];
    const attempts = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0 ? h.accounts : replica.accounts).signUp(
        { email: spellings[i % spellings.length] ?? "", password: GOOD_PASSWORD },
        // Twelve argon2id hashes at once on a small, shared machine.
        { timeoutMs: 60_000 },
      ),
    );
    const results = await Promise.allSettled(attempts);
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(ok.length, 1, `exactly one sign-up wins: ${failed.map((f) => String(f.reason)).join("; ")}`);
    for (const f of failed) rejects("ALREADY_EXISTS", "An account with this email already exists")(f.reason);
    const rows = await h.db.selectFrom("accounts").select("id").where("email", "=", `${local}@example.com`).execute();
    assert.equal(rows.length, 1);
    await replica.service.stop();
  });

  test("a wrong password and an unknown email get the same error", async () => {
    const email = unique();
    await h.signUp(email);
    const wrong = await h.accounts.signIn({ email, password: "not the right one!" }).catch((e: unknown) => e);
    const unknown = await h.accounts
      .signIn({ email: unique("nobody"), password: GOOD_PASSWORD })
      .catch((e: unknown) => e);
    for (const error of [wrong, unknown]) rejects("UNAUTHENTICATED", "Email or password is incorrect")(error);
    assert.equal((wrong as ClientError).code, (unknown as ClientError).code);
    const ok = await h.accounts.signIn({ email, password: GOOD_PASSWORD });
    assert.equal(ok.signedIn?.account?.email, email);
  });

  test("sign-up enforces the password rules with a BadRequest on password", async () => {
    const email = unique();
    const cases: [string, string][] = [
      ["", "Password is required"],
      ["short1!", "Password must be at least 10 characters"],
      ["p".repeat(129), "Password must be at most 128 characters"],
      [" ".repeat(12), "Password must not be only spaces"],
      [email.toUpperCase(), "Password must not be your email address"],
      ["qwertyuiop", "Password is one of the 10,000 most common passwords; choose another"],
    ];
    for (const [password, message] of cases) {
      const error = await h.accounts.signUp({ email, password }).catch((e: unknown) => e);
      rejects("INVALID_ARGUMENT", message)(error);
      const [violation] = fieldViolations(error);
      assert.deepEqual([violation?.field, violation?.description], ["password", message]);
    }
    const error = await h.accounts.signUp({ email: "not an email", password: GOOD_PASSWORD }).catch((e: unknown) => e);
    rejects("INVALID_ARGUMENT", "email must be a valid email address")(error);
    assert.equal(fieldViolations(error)[0]?.field, "email");
    await assert.rejects(
      h.accounts.signUp({ email, password: GOOD_PASSWORD, client: { ipAddress: "nope", userAgent: "" } }),
      rejects("INVALID_ARGUMENT", "client.ip_address must be an IP address"),
    );
    const none = await h.db.selectFrom("accounts").select("id").where("email", "=", email).execute();
    assert.equal(none.length, 0, "nothing was created");
  });

  test("RefreshAccessToken renews while the session lives; SignOut ends it", async () => {
    const signedIn = await h.signUp(unique());
    const refreshed = await h.accounts.refreshAccessToken({ sessionToken: signedIn.sessionToken });
    assert.equal(refreshed.account?.accountId, signedIn.account?.accountId);
    assert.notEqual(refreshed.accessToken?.token, signedIn.accessToken?.token);
    await h.accounts.signOut({ sessionToken: signedIn.sessionToken });
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: signedIn.sessionToken }),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
    await h.accounts.signOut({ sessionToken: signedIn.sessionToken }); // Again: not an error.
    await h.accounts.signOut({ sessionToken: "never-issued" });
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: "never-issued" }),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: "" }),
      rejects("INVALID_ARGUMENT", "session_token is required"),
    );
  });

  test("a session unused for its idle lifetime has ended", async () => {
    const signedIn = await h.signUp(unique());
    await h.db
      .updateTable("sessions")
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where("token_hash", "=", hashSecret(signedIn.sessionToken))
      .execute();
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: signedIn.sessionToken }),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
  });

  test("ChangePassword keeps this session, revokes the others, and the old password stops working", async () => {
    const email = unique();
    const first = await h.signUp(email);
    const second = (await h.accounts.signIn({ email, password: GOOD_PASSWORD })).signedIn;
    const third = (await h.accounts.signIn({ email, password: GOOD_PASSWORD })).signedIn;
    assert.ok(second && third);
    const auth = { metadata: h.bearer(second.accessToken?.token ?? "") };
    await assert.rejects(
      h.accounts.changePassword(
        { sessionToken: second.sessionToken, currentPassword: "wrong password!", newPassword: "a new long passphrase" },
        auth,
      ),
      rejects("UNAUTHENTICATED", "Current password is incorrect"),
    );
    await assert.rejects(
      h.accounts.changePassword(
        { sessionToken: second.sessionToken, currentPassword: GOOD_PASSWORD, newPassword: "1234567890" },
        auth,
      ),
      rejects("INVALID_ARGUMENT", "Password is one of the 10,000 most common passwords; choose another"),
    );
    // Another account's session with this account's token: refused.
    const other = await h.signUp(unique());
    await assert.rejects(
      h.accounts.changePassword(
        { sessionToken: other.sessionToken, currentPassword: GOOD_PASSWORD, newPassword: "a new long passphrase" },
        auth,
      ),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
    const changed = await h.accounts.changePassword(
      { sessionToken: second.sessionToken, currentPassword: GOOD_PASSWORD, newPassword: "a new long passphrase" },
      auth,
    );
    assert.equal(changed.revokedSessionCount, 2);
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: first.sessionToken }),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: third.sessionToken }),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
    assert.ok((await h.accounts.refreshAccessToken({ sessionToken: second.sessionToken })).accessToken);
    await assert.rejects(
      h.accounts.signIn({ email, password: GOOD_PASSWORD }),
      rejects("UNAUTHENTICATED", "Email or password is incorrect"),
    );
    assert.ok((await h.accounts.signIn({ email, password: "a new long passphrase" })).signedIn);
    // Without a token, the kit refuses before the handler.
    await assert.rejects(
      h.accounts.changePassword({ sessionToken: second.sessionToken, currentPassword: "x", newPassword: "y" }),
      rejects("UNAUTHENTICATED", "A valid bearer token is required"),
    );
  });

  test("ListSessions and RevokeSession see only the caller's own sessions", async () => {
    const email = unique();
    const a = await h.signUp(email);
    const b = (await h.accounts.signIn({ email, password: GOOD_PASSWORD, client: { ipAddress: "", userAgent: "B" } }))
      .signedIn;
    assert.ok(b);
    const auth = { metadata: h.bearer(a.accessToken?.token ?? "") };
    const listed = await h.accounts.listSessions({}, auth);
    assert.deepEqual(
      listed.sessions.map((s) => s.sessionId).sort(),
      [a.session?.sessionId, b.session?.sessionId].sort(),
    );
    assert.equal(listed.sessions[0]?.sessionId, b.session?.sessionId, "most recently used first");

    const stranger = await h.signUp(unique());
    const strangerAuth = { metadata: h.bearer(stranger.accessToken?.token ?? "") };
    await assert.rejects(
      h.accounts.revokeSession({ sessionId: b.session?.sessionId ?? "" }, strangerAuth),
      rejects("NOT_FOUND", "Session not found"),
    );
    await h.accounts.revokeSession({ sessionId: b.session?.sessionId ?? "" }, auth);
    await h.accounts.revokeSession({ sessionId: b.session?.sessionId ?? "" }, auth); // Idempotent.
    await assert.rejects(
      h.accounts.refreshAccessToken({ sessionToken: b.sessionToken }),
      rejects("UNAUTHENTICATED", "Session has ended; sign in again"),
    );
    assert.deepEqual(
      (await h.accounts.listSessions({}, auth)).sessions.map((s) => s.sessionId),
      [a.session?.sessionId],
    );
    await assert.rejects(
      h.accounts.revokeSession({ sessionId: "nope" }, auth),
      rejects("NOT_FOUND", "Session not found"),
    );
  });

  test("GetAccount: me, another account only for admins, unknown ids", async () => {
    const a = await h.signUp(unique());
    const b = await h.signUp(unique());
    const asA = { metadata: h.bearer(a.accessToken?.token ?? "") };
    await assert.rejects(
      h.accounts.getAccount({ accountId: b.account?.accountId ?? "" }, asA),
      rejects("PERMISSION_DENIED", "This needs an admin account"),
    );
    assert.equal(
      (await h.accounts.getAccount({ accountId: a.account?.accountId ?? "" }, asA)).account?.email,
      a.account?.email,
    );
    await assert.rejects(h.accounts.getAccount({ accountId: "me" }), rejects("UNAUTHENTICATED"));
    await assert.rejects(
      h.accounts.getAccount({ accountId: "me" }, { metadata: h.bearer("not.a.token") }),
      rejects("UNAUTHENTICATED", "A valid bearer token is required"),
    );
    await assert.rejects(
      h.accounts.getAccount({ accountId: "" }, asA),
      rejects("INVALID_ARGUMENT", "account_id is required"),
    );
  });
});
