// The Inventory deployable as a process: the built bundle with real PostgreSQL and the pg-boss
// bus, answering health, reserving stock and streaming it, and stopping cleanly on SIGTERM
// (an open WatchStock ends at once with UNAVAILABLE instead of holding the drain).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, readDatabaseConfig } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { inventoryV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "inventory", "dist", "main.bundle.js");
const logger = createLogger({ name: "inventory-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS)/;

describe("the inventory process", () => {
  const databases: TestDatabase[] = [];
  let service: LoggedProcess | undefined;
  after(async () => {
    await service?.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("serves health and stock, and exits 0 on SIGTERM with a watch open", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
    service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "inventory"),
      env: {
        ...base,
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        CATALOG_ADDRESS: "127.0.0.1:9",
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    await service.waitForLine(/"msg":"inventory started/, 90_000);
    const record = logRecords(service.lines).find((r) => String(r.msg).startsWith("inventory started"));
    const address = String(record?.address);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);

    const database = createDatabase<{ stock: { book_id: string; on_hand: number } }>({
      config: readDatabaseConfig({ DATABASE_URL: own.url }, { name: "inventory" }),
      logger,
    });
    await database.kysely.insertInto("stock").values({ book_id: "42", on_hand: 3 }).execute();
    await database.close();

    const client = createClient(inventoryV1.InventoryServiceService, address, { logger, retry: false });
    try {
      const watch = client.watchStock({ bookIds: ["42"] }, { timeoutMs: Infinity })[Symbol.asyncIterator]();
      assert.equal((await watch.next()).value?.stock?.available, 3);
      const reservation = (await client.reserveStock({ reservationKey: "p-1", lines: [{ bookId: "42", quantity: 2 }] }))
        .reservation;
      assert.equal(reservation?.state, inventoryV1.Reservation_State.STATE_HELD);
      assert.equal((await watch.next()).value?.stock?.available, 1, "the change streams to the watcher");

      const stopping = Date.now();
      service.kill("SIGTERM");
      await assert.rejects(
        watch.next(),
        (error: unknown) => error instanceof ClientError && error.codeName === "UNAVAILABLE",
      );
      assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
      const took = Date.now() - stopping;
      process.stdout.write(`# stopped in ${took} ms\n`);
      assert.ok(took < 15_000, `stopped in ${took} ms, not after the 20 s grace period`);
    } finally {
      client.close();
    }
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Shutdown complete"));
    assert.ok(messages.includes("Shut down gracefully"));
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
  });
});
