// The README's "Write a new service" example must stay true: README.md shows counter-service.ts
// verbatim, and the service keeps a table, publishes an event through the outbox and consumes it,
// against a real PostgreSQL (a database per test, the pg-boss bus in another).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ClientError, createClient, createLogger } from "@obfy/kit";
import { createTestDatabase } from "@obfy/kit/db/testing";
import { startService } from "@obfy/kit/service";
import { dummyV1 } from "@obfy/protos";
import { counterService } from "./counter-service.js";

const examplePath = fileURLToPath(new URL("./counter-service.ts", import.meta.url));
const readmePath = fileURLToPath(new URL("../../../README.md", import.meta.url));

test("README shows counter-service.ts verbatim", async () => {
  const [readme, example] = await Promise.all([readFile(readmePath, "utf8"), readFile(examplePath, "utf8")]);
  assert.ok(
    readme.includes(`\`\`\`ts\n${example}\`\`\``),
    "README.md's example differs from packages/kit/examples/counter-service.ts",
  );
});

test("the counter example stores each input, and its consumer counts each event once", async () => {
  const [own, bus] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  const service = await startService(counterService, {
    env: {
      DATABASE_URL: own.url,
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: bus.url,
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "off",
      SHUTDOWN_GRACE_SECONDS: "5",
    },
    logger: createLogger({ name: "counter", level: "silent" }),
  });
  const client = createClient(dummyV1.DummyServiceService, `127.0.0.1:${service.port}`, { defaultTimeoutMs: 5000 });
  after(async () => {
    client.close();
    await service.stop();
    await Promise.all([own.drop(), bus.drop()]);
  });

  await client.execute({ input: "first" });
  await client.execute({ input: "second" });
  // A rejected call changes nothing: no row, no event.
  await assert.rejects(client.execute({ input: "" }), (error: unknown) => {
    assert.ok(error instanceof ClientError);
    assert.equal(error.codeName, "INVALID_ARGUMENT");
    assert.equal(error.details, "input must not be empty");
    return true;
  });
  const db = service.database?.kysely;
  assert.ok(db);
  const inputs = await db.selectFrom("inputs").select("input").orderBy("created_at").execute();
  assert.deepEqual(
    inputs.map((r) => r.input),
    ["first", "second"],
  );
  // The consumer runs asynchronously; wait (bounded) for both events' effect.
  let total: string | undefined;
  for (let i = 0; i < 100 && total !== "2"; i++) {
    total = (await db.selectFrom("totals").select("amount").where("counter_id", "=", "inputs").executeTakeFirst())
      ?.amount;
    if (total !== "2") await delay(100);
  }
  assert.equal(total, "2", "each event counted exactly once");
  assert.equal((await client.execute({ input: "third" })).output.length > 0, true);
});
