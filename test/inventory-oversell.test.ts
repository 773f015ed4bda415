// No overselling, from several OS processes: two Inventory replicas (the built bundle) on one
// database, and client processes (each with its own client and channels) firing concurrent
// ReserveStock calls at both for a book with fewer copies than calls. Exactly K succeed, the
// rest are "Not enough stock", and stock never goes below zero.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, readDatabaseConfig, sql } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { inventoryV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "inventory", "dist", "main.bundle.js");
// Generous: on a loaded 2-core machine the bundle and pg-boss take long to start.
const STARTUP_MS = 90_000;
const REPLICAS = 2;
const CLIENT_PROCESSES = 4;
const CALLS_PER_PROCESS = 15;
const K = 7;
const N = CLIENT_PROCESSES * CALLS_PER_PROCESS;
const logger = createLogger({ name: "oversell-test", level: "silent" });

/** The runner's settings that would change what the service does. */
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS)/;
const baseEnv = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));

async function startReplica(env: Record<string, string>): Promise<{ process: LoggedProcess; address: string }> {
  const child = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
    cwd: join(repoRoot, "services", "inventory"),
    env: { ...baseEnv(), ...env, HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", LOG_FORMAT: "json" },
  });
  await child.waitForLine(/"msg":"inventory started/, STARTUP_MS);
  const record = logRecords(child.lines).find((r) => String(r.msg).startsWith("inventory started"));
  return { process: child, address: String(record?.address) };
}

describe("no overselling", () => {
  const databases: TestDatabase[] = [];
  const replicas: LoggedProcess[] = [];
  let env: Record<string, string>;

  before(async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    env = {
      DATABASE_URL: own.url,
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: bus.url,
      CATALOG_ADDRESS: "127.0.0.1:9",
      SHUTDOWN_GRACE_SECONDS: "5",
      // 60 calls at once on pools of 10: under a loaded test run the wait for a connection may
      // pass the default 3 s; that would be UNAVAILABLE, not overselling.
      DATABASE_CONNECT_TIMEOUT_MS: "15000",
    };
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all(databases.map((d) => d.drop()));
  });

  it(`${N} concurrent reservations from ${CLIENT_PROCESSES} processes on ${REPLICAS} replicas for ${K} copies: exactly ${K} succeed`, async () => {
    // One after the other: the first migrates, the second finds the schema in place.
    const started = [];
    for (let i = 0; i < REPLICAS; i++) started.push(await startReplica(env));
    replicas.push(...started.map((s) => s.process));

    const database = createDatabase<{ stock: { book_id: string; on_hand: number; reserved: number } }>({
      config: readDatabaseConfig(env, { name: "inventory" }),
      logger,
    });
    try {
      await database.kysely.insertInto("stock").values({ book_id: "scarce", on_hand: K, reserved: 0 }).execute();
      // Watch the numbers from outside while the calls run: never below zero.
      let lowest = Number.POSITIVE_INFINITY;
      let samples = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const row = await database.kysely
            .selectFrom("stock")
            .select(["on_hand", "reserved"])
            .where("book_id", "=", "scarce")
            .executeTakeFirstOrThrow();
          lowest = Math.min(lowest, row.on_hand - row.reserved, row.on_hand, row.reserved);
          samples++;
        }
      })();

      const targets = started.map((s) => s.address).join(",");
      const startAt = Date.now() + 3000;
      const clients = Array.from({ length: CLIENT_PROCESSES }, (_, i) =>
        spawnLogged(
          process.execPath,
          [
            "--conditions=source",
            "--import",
            "tsx",
            "test/support/inventory-reserve-client.ts",
            targets,
            "scarce",
            String(CALLS_PER_PROCESS),
            `p${i}`,
            String(startAt),
          ],
          { cwd: repoRoot, env: baseEnv() },
        ),
      );
      const exits = await Promise.all(clients.map((c) => c.exited));
      sampling = false;
      await sampler;
      const reports = clients.map((c, i) => {
        assert.deepEqual(exits[i], { code: 0, signal: null }, c.lines.join("\n"));
        const line = c.lines.find((l) => l.startsWith("{"));
        assert.ok(line, c.lines.join("\n"));
        return JSON.parse(line) as { pid: number; reserved: number; short: number; other: string[] };
      });
      assert.equal(new Set(reports.map((r) => r.pid)).size, CLIENT_PROCESSES, "separate processes");
      assert.deepEqual(
        reports.flatMap((r) => r.other),
        [],
      );
      const reserved = reports.reduce((sum, r) => sum + r.reserved, 0);
      const short = reports.reduce((sum, r) => sum + r.short, 0);
      assert.equal(reserved, K, JSON.stringify(reports));
      assert.equal(short, N - K);

      const final = await database.kysely
        .selectFrom("stock")
        .selectAll()
        .where("book_id", "=", "scarce")
        .executeTakeFirstOrThrow();
      assert.deepEqual([final.on_hand, final.reserved], [K, K]);
      const held = await sql<{ n: string }>`select count(*) as n from reservations where state = 'held'`.execute(
        database.kysely,
      );
      assert.equal(Number(held.rows[0]?.n), K);
      assert.ok(lowest >= 0, `lowest sampled figure ${lowest}`);
      assert.ok(samples > 0);
      // And the database itself refuses one more, whoever asks.
      await assert.rejects(
        sql`update stock set reserved = reserved + 1 where book_id = 'scarce'`.execute(database.kysely),
        {
          code: "23514",
        },
      );

      const check = createClient(inventoryV1.InventoryServiceService, started[0]?.address ?? "", { logger });
      assert.equal((await check.getStock({ bookId: "scarce" })).stock?.available, 0);
      check.close();
      process.stdout.write(
        `# oversell: N=${N} K=${K} processes=${CLIENT_PROCESSES} replicas=${REPLICAS} reserved=${reserved} short=${short} samples=${samples} lowest=${lowest}\n`,
      );
    } finally {
      await database.close();
    }

    for (const replica of replicas) {
      replica.kill("SIGTERM");
      assert.deepEqual(await replica.exited, { code: 0, signal: null }, replica.lines.slice(-20).join("\n"));
    }
  });
});
