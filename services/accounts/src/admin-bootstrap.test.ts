// The first admin: from ADMIN_EMAIL and ADMIN_PASSWORD, or generated and printed once.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase } from "@obfy/kit/db/testing";
import { startService } from "@obfy/kit/service";
import { accountsV1 } from "@obfy/protos";
import { accountsService } from "./app.js";
import { withOwnTokenVerification } from "./config.js";
import { freePort, rejects, startAccountsHarness } from "./fixtures/accounts-harness.js";

/** A logger whose JSON lines the test can read. */
function capturingLogger() {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on("data", (chunk: Buffer) => lines.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
  return { logger: createLogger({ name: "accounts", level: "info", destination: stream, env: {} }), lines };
}

describe("the first admin", () => {
  test("from ADMIN_EMAIL and ADMIN_PASSWORD: created once, signs in as admin, may list accounts", async () => {
    const h = await startAccountsHarness({
      env: { ADMIN_EMAIL: "  Boss@Shop.Example ", ADMIN_PASSWORD: "the first admin's passphrase" },
    });
    try {
      const signedIn = (
        await h.accounts.signIn({ email: "boss@shop.example", password: "the first admin's passphrase" })
      ).signedIn;
      assert.equal(signedIn?.account?.role, accountsV1.Role.ROLE_ADMIN);
      const admin = { metadata: h.bearer(signedIn?.accessToken?.token ?? "") };
      const shopper = await h.signUp("someone@example.com");
      const other = await h.accounts.getAccount({ accountId: shopper.account?.accountId ?? "" }, admin);
      assert.equal(other.account?.email, "someone@example.com");
      const listed = await h.accounts.listAccounts({ emailContains: "SOMEONE", pageSize: 0, pageToken: "" }, admin);
      assert.deepEqual(
        listed.accounts.map((a) => a.email),
        ["someone@example.com"],
      );
      await assert.rejects(
        h.accounts.listAccounts(
          { emailContains: "", pageSize: 0, pageToken: "" },
          { metadata: h.bearer(shopper.accessToken?.token ?? "") },
        ),
        rejects("PERMISSION_DENIED", "This needs an admin account"),
      );
      // Pages in email order, the filter bound to its page tokens.
      for (const name of ["pg-c", "pg-a", "pg-e", "pg-b", "pg-d"]) await h.signUp(`${name}@paged.example`);
      const emails: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await h.accounts.listAccounts({ emailContains: "@PAGED.", pageSize: 2, pageToken }, admin);
        emails.push(...page.accounts.map((a) => a.email));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "");
      assert.equal(pages, 3);
      assert.deepEqual(
        emails,
        ["a", "b", "c", "d", "e"].map((x) => `pg-${x}@paged.example`),
      );
      const first = await h.accounts.listAccounts({ emailContains: "@paged.", pageSize: 2, pageToken: "" }, admin);
      await assert.rejects(
        h.accounts.listAccounts({ emailContains: "other", pageSize: 2, pageToken: first.nextPageToken }, admin),
        rejects("INVALID_ARGUMENT", "Invalid page token"),
      );
      // A second start (a replica, a restart) changes nothing.
      const replica = await h.startReplica();
      await replica.service.stop();
      const admins = await h.db.selectFrom("accounts").select("email").where("role", "=", "admin").execute();
      assert.deepEqual(admins, [{ email: "boss@shop.example" }]);
    } finally {
      await h.stop();
    }
  });

  test("a configured password must follow the rules, and both variables go together", async () => {
    const database = await createTestDatabase();
    const logger = createLogger({ name: "accounts", level: "silent" });
    const env = async (extra: Record<string, string>) =>
      withOwnTokenVerification(
        {
          DATABASE_URL: database.url,
          HOST: "127.0.0.1",
          PORT: "0",
          METRICS_PORT: String(await freePort()),
          LOG_LEVEL: "silent",
          ...extra,
        },
        9468,
      );
    try {
      await assert.rejects(
        startService(accountsService, {
          env: await env({ ADMIN_EMAIL: "a@shop.example", ADMIN_PASSWORD: "short" }),
          logger,
        }),
        /ADMIN_PASSWORD does not follow the password rules: Password must be at least 10 characters/,
      );
      await assert.rejects(
        startService(accountsService, { env: await env({ ADMIN_EMAIL: "a@shop.example" }), logger }),
        /Set both ADMIN_EMAIL and ADMIN_PASSWORD/,
      );
      await assert.rejects(
        startService(accountsService, {
          env: await env({ ADMIN_EMAIL: "nope", ADMIN_PASSWORD: "long enough passphrase" }),
          logger,
        }),
        /ADMIN_EMAIL: email must be a valid email address/,
      );
    } finally {
      await database.drop();
    }
  });

  test("not configured: generated at the first local start, printed once, and it works", async () => {
    const first = capturingLogger();
    const h = await startAccountsHarness({ logger: first.logger });
    try {
      const printed = first.lines
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((r) => r.msg.startsWith("First admin account created"));
      assert.equal(printed.length, 1);
      assert.equal(printed[0]?.level, 40, "a warning, shown at every log level");
      const match = /sign in as (\S+) with password (\S+) /.exec(printed[0]?.msg ?? "");
      assert.ok(match?.[1] && match[2], printed[0]?.msg);
      assert.equal(match[1], "admin@obfy.localhost");
      const signedIn = (await h.accounts.signIn({ email: match[1], password: match[2] })).signedIn;
      assert.equal(signedIn?.account?.role, accountsV1.Role.ROLE_ADMIN);

      // The next start (or a replica) prints nothing: an admin exists.
      const second = capturingLogger();
      const again = await startService(accountsService, {
        env: { ...h.env, METRICS_PORT: String(await freePort()) },
        logger: second.logger,
      });
      await again.stop();
      assert.ok(!second.lines.some((l) => l.includes("First admin account created")));
      assert.ok(!second.lines.some((l) => l.includes(match[2] ?? "")), "the password is never printed again");
    } finally {
      await h.stop();
    }
  });

  test("in production without configuration, no password is generated or printed", async () => {
    const captured = capturingLogger();
    const h = await startAccountsHarness({ logger: captured.logger, env: { NODE_ENV: "production" } });
    try {
      assert.ok(captured.lines.some((l) => l.includes("No admin account: set ADMIN_EMAIL and ADMIN_PASSWORD")));
      assert.ok(!captured.lines.some((l) => l.includes("First admin account created")));
      assert.equal((await h.db.selectFrom("accounts").select("id").execute()).length, 0);
    } finally {
      await h.stop();
    }
  });
});
