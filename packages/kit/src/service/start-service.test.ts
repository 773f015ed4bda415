// startService against the machine's real PostgreSQL and the pg-boss bus: a small service with a
// table, an RPC that records an event in the outbox, and a subscriber that applies it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { deadLettersV1, dummyV1, healthV1, kitTestingEventsV1 } from "@obfy/protos";
import { createClient } from "../client/create-client.js";
import { type Generated, sql } from "../db/index.js";
import { defineMigrations } from "../db/migrations.js";
import { createTestDatabase } from "../db/testing.js";
import { createTestIdentity, type TestIdentity } from "../dev/test-identity.js";
import type { EventTables } from "../events/tables.js";
import { createLogger } from "../logger.js";
import { defineService } from "../server/service.js";
import { type RunningService, type ServiceDefinition, startService } from "./start-service.js";

interface Tables extends EventTables {
  calls: { id: Generated<number>; input: string };
  effects: { counter_id: string; amount: string };
}

const migrations = defineMigrations("sample", {
  "0001-calls-and-effects": {
    async up(db) {
      await sql`create table calls (id integer generated always as identity primary key, input text not null)`.execute(
        db,
      );
      await sql`create table effects (counter_id text primary key, amount bigint not null)`.execute(db);
    },
  },
});

const definition: ServiceDefinition<Tables> = {
  name: "sample",
  port: 0,
  metricsPort: 0,
  database: { migrations: [migrations] },
  events: true,
  build({ database, bus }) {
    bus.subscribe(kitTestingEventsV1.CounterIncremented, async (event, trx) => {
      await trx
        .insertInto("effects")
        .values({ counter_id: event.data.counterId, amount: String(event.data.amount) })
        .onConflict((c) => c.column("counter_id").doUpdateSet({ amount: sql`effects.amount + excluded.amount` }))
        .execute();
    });
    return {
      services: [
        defineService(dummyV1.DummyServiceService, {
          async execute(request) {
            await database.transaction(async (trx) => {
              await trx.insertInto("calls").values({ input: request.input }).execute();
              await bus.publish(trx, kitTestingEventsV1.CounterIncremented, {
                counterId: request.input,
                amount: 2,
                sequence: 1,
                note: "",
              });
            });
            return { output: request.input };
          },
          async *executeServerStream() {},
          async executeClientStream() {
            return { output: "" };
          },
          async *executeClientServerStream() {},
        }),
      ],
    };
  },
};

describe("startService", () => {
  let running: RunningService<Tables>;
  let env: NodeJS.ProcessEnv;
  let identity: TestIdentity;

  before(async () => {
    identity = await createTestIdentity();
    const [service, busDatabase] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    env = {
      DATABASE_URL: service.url,
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: busDatabase.url,
      HOST: "127.0.0.1",
      METRICS_HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      ...identity.env,
    };
    running = await startService(definition, { env, logger: createLogger({ name: "sample", level: "warn" }) });
  });
  after(() => running?.stop());

  test("serves after migrating, reports SERVING, and an event recorded in a call reaches the subscriber", async () => {
    const target = `127.0.0.1:${running.port}`;
    const health = new healthV1.HealthClient(target, credentials.createInsecure());
    const answer = await new Promise<healthV1.HealthCheckResponse>((resolve, reject) =>
      health.check({ service: "" }, (error, response) => (error ? reject(error) : resolve(response))),
    );
    health.close();
    assert.equal(answer.status, healthV1.HealthCheckResponse_ServingStatus.SERVING);

    const dummy = createClient(dummyV1.DummyServiceService, target);
    try {
      // The Dummy service has no auth rule in its proto: with a key source configured it needs a token.
      await assert.rejects(dummy.execute({ input: "apples" }), { codeName: "UNAUTHENTICATED" });
      const metadata = await identity.metadata({ subject: "u1" });
      assert.equal((await dummy.execute({ input: "apples" }, { metadata })).output, "apples");
    } finally {
      dummy.close();
    }
    const db = running.database?.kysely;
    assert.ok(db);
    const deadline = Date.now() + 30_000;
    let effect: { amount: string } | undefined;
    while (Date.now() < deadline) {
      effect = await db.selectFrom("effects").select("amount").where("counter_id", "=", "apples").executeTakeFirst();
      if (effect) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(effect?.amount, "2");
  });

  test("mounts the dead-letters service for admins, which knows only its own queues", async () => {
    const client = createClient(deadLettersV1.DeadLettersServiceService, `127.0.0.1:${running.port}`);
    try {
      const list = { queue: "", pageSize: 10, pageToken: "" };
      await assert.rejects(client.listDeadLetters(list), { codeName: "UNAUTHENTICATED" });
      const shopper = await identity.metadata({ subject: "u1" });
      await assert.rejects(client.listDeadLetters(list, { metadata: shopper }), { codeName: "PERMISSION_DENIED" });
      const metadata = await identity.metadata({ subject: "a1", role: "admin" });
      const page = await client.listDeadLetters(list, { metadata });
      assert.deepEqual(page.deadLetters, []);
      await assert.rejects(client.listDeadLetters({ ...list, queue: "someone-else" }, { metadata }), {
        codeName: "NOT_FOUND",
      });
    } finally {
      client.close();
    }
  });

  test("a bad setting stops the start with one message naming the variable, before anything binds", async () => {
    await assert.rejects(
      startService(definition, {
        env: { ...env, DATABASE_URL: "" },
        logger: createLogger({ name: "x", level: "silent" }),
      }),
      /DATABASE_URL/,
    );
    await assert.rejects(
      startService(
        { ...definition, database: undefined },
        { env, logger: createLogger({ name: "x", level: "silent" }) },
      ),
      /events need a database/,
    );
  });
});
