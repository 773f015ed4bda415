// Injection strings through every text field a client can set: each is stored and returned
// exactly (as the field's documented normalisation makes it), or refused with the documented
// status; never INTERNAL, and nothing else changes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { injectionCases } from "@obfy/kit/db/testing";
import { type accountsV1, clientsV1 } from "@obfy/protos";
import { type AccountsHarness, GOOD_PASSWORD, startAccountsHarness } from "./fixtures/accounts-harness.js";

function refusedAs(error: unknown, allowed: readonly string[]): void {
  assert.ok(error instanceof ClientError, String(error));
  assert.ok(allowed.includes(error.codeName), `${error.codeName}: ${error.details}`);
}

const ADMIN = { email: "admin@shop.example", password: "admin passphrase here" };

describe("injection strings", () => {
  let h: AccountsHarness;
  let admin: { metadata: { authorization: string } };
  let sentinel: accountsV1.SignedIn;
  const tables = () =>
    sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = 'public'`
      .execute(h.db)
      .then((r) => r.rows[0]?.n);
  let tableCount: string | undefined;

  before(async () => {
    h = await startAccountsHarness({
      env: {
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        // Every case signs in from one address: the limits are not what this file tests.
        SIGN_IN_ACCOUNT_FREE_FAILURES: "1000",
        SIGN_IN_ADDRESS_FREE_FAILURES: "100000",
      },
    });
    admin = {
      metadata: h.bearer(
        (await h.accounts.signIn({ email: ADMIN.email, password: ADMIN.password })).signedIn?.accessToken?.token ?? "",
      ),
    };
    sentinel = await h.signUp("sentinel@example.com");
    tableCount = await tables();
  });
  after(async () => {
    assert.equal(await tables(), tableCount);
    const row = await h.db
      .selectFrom("accounts")
      .select(["email", "role"])
      .where("id", "=", sentinel.account?.accountId ?? "")
      .executeTakeFirst();
    assert.deepEqual(row, { email: "sentinel@example.com", role: "shopper" });
    assert.ok(
      (await h.accounts.refreshAccessToken({ sessionToken: sentinel.sessionToken })).accessToken,
      "its session lives",
    );
    await h?.stop();
  });

  test("SignUp: email, password, address and user agent", { timeout: 300_000 }, async () => {
    let i = 0;
    const sample = (): accountsV1.SignUpRequest => ({
      email: `inject-${++i}@example.com`,
      password: GOOD_PASSWORD,
      client: { ipAddress: "192.0.2.9", userAgent: "Firefox" },
    });
    for (const { path, value, request } of injectionCases<accountsV1.SignUpRequest>(sample())) {
      const fresh = { ...request, email: path === "email" ? request.email : sample().email };
      try {
        const signedIn = (await h.accounts.signUp(fresh, { timeoutMs: 30_000 })).signedIn;
        if (path === "email") assert.equal(signedIn?.account?.email, value.trim().toLowerCase().normalize("NFC"));
        if (path === "client.userAgent") {
          // biome-ignore lint/suspicious/noControlCharactersInRegex: as documented, controls are dropped.
          const shown = [...value.replace(/[\u0000-\u001f\u007f-\u009f]/gu, "")].slice(0, 300).join("");
          assert.equal(signedIn?.session?.userAgent, shown);
        }
        if (path === "password") {
          const again = await h.accounts.signIn({ email: fresh.email, password: value });
          assert.equal(again.signedIn?.account?.email, fresh.email, "the password works exactly as given");
        }
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
  });

  test("SignIn, RefreshAccessToken, SignOut: never another account, never INTERNAL", { timeout: 300_000 }, async () => {
    const sample: accountsV1.SignInRequest = {
      email: "sentinel@example.com",
      password: GOOD_PASSWORD,
      client: { ipAddress: "192.0.2.10", userAgent: "Firefox" },
    };
    for (const { path, request } of injectionCases(sample)) {
      try {
        const signedIn = (await h.accounts.signIn(request, { timeoutMs: 30_000 })).signedIn;
        assert.equal(path, "client.userAgent", "only the user agent may vary and still sign in");
        assert.equal(signedIn?.account?.accountId, sentinel.account?.accountId);
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT", "UNAUTHENTICATED"]);
      }
    }
    for (const { request } of injectionCases<accountsV1.RefreshAccessTokenRequest>({ sessionToken: "x" })) {
      await h.accounts.refreshAccessToken(request).then(
        () => assert.fail("no such session"),
        (error: unknown) => refusedAs(error, ["INVALID_ARGUMENT", "UNAUTHENTICATED"]),
      );
      await h.accounts.signOut(request).catch((error: unknown) => refusedAs(error, ["INVALID_ARGUMENT"]));
    }
  });

  test("GetAccount, RevokeSession, ListAccounts", async () => {
    for (const { request } of injectionCases<accountsV1.GetAccountRequest>({ accountId: "me" })) {
      await h.accounts.getAccount(request, admin).then(
        () => assert.fail("no such account"),
        (error: unknown) => refusedAs(error, ["INVALID_ARGUMENT", "NOT_FOUND"]),
      );
    }
    for (const { request } of injectionCases<accountsV1.RevokeSessionRequest>({ sessionId: "s" })) {
      await h.accounts.revokeSession(request, admin).then(
        () => assert.fail("no such session"),
        (error: unknown) => refusedAs(error, ["INVALID_ARGUMENT", "NOT_FOUND"]),
      );
    }
    for (const { path, value, request } of injectionCases<accountsV1.ListAccountsRequest>({
      emailContains: "example",
      pageSize: 100,
      pageToken: "",
    })) {
      try {
        const page = await h.accounts.listAccounts(request, admin);
        assert.equal(path, "emailContains");
        const needle = value.trim().toLowerCase().normalize("NFC");
        assert.ok(
          page.accounts.every((a) => a.email.includes(needle)),
          `only emails containing ${JSON.stringify(value)}`,
        );
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
  });

  test("CreateClient, IssueClientToken, RevokeClient", async () => {
    for (const { path, value, request } of injectionCases<clientsV1.CreateClientRequest>({
      client: clientsV1.Client.fromPartial({ displayName: "Partner", allowedScopes: ["orders:read"] }),
    })) {
      try {
        const created = await h.clients.createClient(request, admin);
        if (path === "client.displayName") assert.equal(created.client?.displayName, value.trim().normalize("NFC"));
        else {
          // Output-only fields are ignored: the id and the creator are the service's own.
          assert.ok(["client.clientId", "client.createdBy"].includes(path), path);
          assert.match(created.client?.clientId ?? "", /^cli_[A-Za-z0-9_-]{22}$/);
          assert.notEqual(created.client?.createdBy, value);
        }
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
    const real = await h.clients.createClient(
      { client: clientsV1.Client.fromPartial({ displayName: "Real", allowedScopes: ["orders:read"] }) },
      admin,
    );
    for (const { request } of injectionCases<clientsV1.IssueClientTokenRequest>({
      clientId: real.client?.clientId ?? "",
      clientSecret: real.clientSecret,
      scopes: ["orders:read"],
    })) {
      await h.clients.issueClientToken(request).then(
        () => assert.fail("never a token for a changed id, secret or scope"),
        (error: unknown) => refusedAs(error, ["INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED"]),
      );
    }
    for (const { request } of injectionCases<clientsV1.RevokeClientRequest>({ clientId: "cli_x" })) {
      await h.clients.revokeClient(request, admin).then(
        () => assert.fail("no such client"),
        (error: unknown) => refusedAs(error, ["INVALID_ARGUMENT", "NOT_FOUND"]),
      );
    }
    assert.ok(
      (
        await h.clients.issueClientToken({
          clientId: real.client?.clientId ?? "",
          clientSecret: real.clientSecret,
          scopes: [],
        })
      ).accessToken,
    );
  });
});
