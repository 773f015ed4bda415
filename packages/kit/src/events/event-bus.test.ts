import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kitTestingEventsV1 } from "@obfy/protos";
import { CamelCasePlugin } from "kysely";
import { createEventBus } from "./event-bus.js";
import { createHarness, type Harness, waitFor } from "./fixtures/harness.js";
import type { MessageType } from "./message-type.js";

describe("createEventBus", { timeout: 60_000 }, () => {
  let harness: Harness;
  before(async () => {
    harness = await createHarness("amqp");
  });
  after(() => harness?.cleanup());

  it("works on a service database whose Kysely has plugins (CamelCasePlugin)", async () => {
    const producerDb = await harness.database();
    const consumerDb = await harness.database();
    const seen: string[] = [];
    const consumer = createEventBus({
      service: "camel-ledger",
      db: consumerDb.db.withPlugin(new CamelCasePlugin()),
      config: harness.config(),
      logger: harness.logger,
      relay: false,
    }).subscribe(kitTestingEventsV1.CounterIncremented, async (event) => {
      seen.push(event.id);
    });
    harness.track("camel-ledger");
    const producer = createEventBus({
      service: "camel-shop",
      db: producerDb.db.withPlugin(new CamelCasePlugin()),
      config: harness.config(),
      logger: harness.logger,
    });
    await consumer.start();
    await producer.start();
    try {
      const camel = producerDb.db.withPlugin(new CamelCasePlugin());
      const id = await camel.transaction().execute((trx) =>
        producer.publish(trx, kitTestingEventsV1.CounterIncremented, {
          counterId: "c",
          amount: 1,
          sequence: 1,
          note: "",
        }),
      );
      await waitFor("the event", () => seen.includes(id));
    } finally {
      await producer.close();
      await consumer.close();
    }
  });

  it("refuses what would go wrong later, with a clear message", async () => {
    const database = await harness.database();
    const options = { db: database.db, config: harness.config(), logger: harness.logger };
    assert.throws(() => createEventBus({ ...options, service: "Orders Service" }), /service must be 1-63 lower-case/);
    const bus = createEventBus({ ...options, service: "strict" });
    const untyped = {
      encode: () => ({ finish: () => new Uint8Array() }),
      decode: () => ({}),
    } as unknown as MessageType<object>;
    await assert.rejects(
      database.db.transaction().execute((trx) => bus.publish(trx, untyped, {})),
      /no \$type with its full name/,
    );
    bus.subscribe(kitTestingEventsV1.CounterReset, async () => {});
    assert.throws(
      () => bus.subscribe(kitTestingEventsV1.CounterReset, async () => {}),
      /already has a subscription handler/,
    );
    await assert.rejects(
      database.db
        .transaction()
        .execute((trx) => bus.publish(trx, kitTestingEventsV1.CounterReset, { counterId: "c" }, { id: "" })),
      /event id must be 1-200 characters/,
    );
  });
});
