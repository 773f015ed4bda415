// The Accounts deployable as a process: the built bundle (with the argon2 native addon loaded
// from node_modules) on real PostgreSQL, printing the generated first admin once, serving
// health, sign-up and its JWKS, verifying its own tokens through that JWKS, and stopping
// cleanly on SIGTERM.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { accountsV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "accounts", "dist", "main.bundle.js");
const logger = createLogger({ name: "accounts-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|ADMIN_)/;
const base = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));

describe("the accounts process", () => {
  const databases: TestDatabase[] = [];
  const processes: LoggedProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("prints the first admin once, signs up, verifies its own tokens, serves its JWKS, exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const own = await createTestDatabase();
    databases.push(own);
    const service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "accounts"),
      env: {
        ...base(),
        DATABASE_URL: own.url,
        HOST: "127.0.0.1",
        PORT: "0",
        // Any free port: Accounts picks it before starting, to verify its own tokens there.
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    processes.push(service);
    await service.waitForLine(/"msg":"accounts started/, 90_000);
    const records = logRecords(service.lines);
    const started = records.find((r) => String(r.msg).startsWith("accounts started"));
    const address = String(started?.address);
    const metricsPort = Number(started?.metrics_port);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);
    const printed = records.filter((r) => String(r.msg).startsWith("First admin account created"));
    assert.equal(printed.length, 1);
    const [, adminEmail, adminPassword] = /sign in as (\S+) with password (\S+) /.exec(String(printed[0]?.msg)) ?? [];
    assert.ok(adminEmail && adminPassword);

    const jwks = (await (await fetch(`http://127.0.0.1:${metricsPort}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string; alg: string }[];
    };
    assert.equal(jwks.keys[0]?.alg, "ES256");

    const client = createClient(accountsV1.AccountsServiceService, address, { logger, retry: false });
    try {
      const signedIn = (
        await client.signUp({ email: "Reader@Example.com", password: "a good long passphrase" }, { timeoutMs: 30_000 })
      ).signedIn;
      assert.equal(signedIn?.account?.email, "reader@example.com");
      const me = await client.getAccount(
        { accountId: "me" },
        { metadata: { authorization: `Bearer ${signedIn?.accessToken?.token}` } },
      );
      assert.equal(me.account?.accountId, signedIn?.account?.accountId, "its own token, verified through its JWKS");
      const admin = (await client.signIn({ email: adminEmail, password: adminPassword }, { timeoutMs: 30_000 }))
        .signedIn;
      const listed = await client.listAccounts(
        { emailContains: "reader", pageSize: 0, pageToken: "" },
        { metadata: { authorization: `Bearer ${admin?.accessToken?.token}` } },
      );
      assert.deepEqual(
        listed.accounts.map((a) => a.email),
        ["reader@example.com"],
      );
    } finally {
      client.close();
    }

    service.kill("SIGTERM");
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Shut down gracefully"));
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
    assert.equal(service.lines.filter((l) => l.includes(adminPassword)).length, 1, "the password is printed once");
  });

  it("refuses to start without a known admin port for its JWKS, naming the variable", async () => {
    const service = spawnLogged(process.execPath, [bundle], {
      cwd: join(repoRoot, "services", "accounts"),
      env: { ...base(), DATABASE_URL: "postgres://127.0.0.1:9/none", METRICS_PORT: "off" },
    });
    processes.push(service);
    assert.deepEqual(await service.exited, { code: 1, signal: null });
    assert.match(service.lines.join("\n"), /set METRICS_PORT to a port .* or set AUTH_JWKS_URL/);
  });
});
