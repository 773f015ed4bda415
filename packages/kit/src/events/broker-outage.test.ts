// RabbitMQ stopped for 10 s under a steady publish rate, then started again: every event's effect
// arrives exactly once. The broker is a private node (fixtures/private-rabbitmq.ts): the shared
// one at 127.0.0.1:5672 keeps serving everybody else's tests.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEventProcess } from "./fixtures/child-process.js";
import { createFaultSetup, type FaultSetup } from "./fixtures/fault-setup.js";
import { effectCounts, waitFor } from "./fixtures/harness.js";
import { type PrivateRabbitMQ, startPrivateRabbitMQ } from "./fixtures/private-rabbitmq.js";

const EVENTS = 600;
const RATE = 20;
const OUTAGE_MS = 10_000;

describe("RabbitMQ stopped for 10 s under load (EVENT_BUS=amqp)", { timeout: 240_000 }, () => {
  let rabbit: PrivateRabbitMQ;
  let setup: FaultSetup;
  before(async () => {
    rabbit = await startPrivateRabbitMQ();
    setup = await createFaultSetup("amqp", { AMQP_URL: rabbit.url });
  });
  after(async () => {
    await setup?.harness.cleanup();
    await rabbit?.destroy();
  });

  it("applies every event's effect exactly once", async (t) => {
    const consumer = startEventProcess(setup.consumer());
    t.after(() => consumer.kill());
    await consumer.waitForLine(/^ready$/, 30_000);
    const producer = startEventProcess(
      setup.producer({ COUNT: String(EVENTS), RATE_PER_SECOND: String(RATE), LISTEN: "1" }),
    );
    t.after(() => producer.kill());

    await producer.waitForLine(/^committed 100$/, 30_000);
    await waitFor("some effects before the outage", async () => (await effectCounts(setup.consumerDb.db)).size > 50);
    const committedBefore = producer.lines.filter((line) => line.startsWith("committed ")).length;
    await rabbit.stop();
    const stoppedAt = Date.now();
    // The outage itself: the broker is down for this long while the producer keeps committing.
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const committedDuring = producer.lines.filter((line) => line.startsWith("committed ")).length - committedBefore;
    const appliedDuring = (await effectCounts(setup.consumerDb.db)).size;
    const stoppedFor = Date.now() - stoppedAt;
    await rabbit.start();
    const downFor = Date.now() - stoppedAt;

    await producer.waitForLine(new RegExp(`^produced ${EVENTS}$`), 120_000);
    await waitFor("every effect", async () => (await effectCounts(setup.consumerDb.db)).size === EVENTS, {
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    await waitFor("the outbox to drain", async () => {
      const unsent = await setup.producerDb.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
      return unsent.length === 0;
    });

    const counts = await effectCounts(setup.consumerDb.db);
    const wrong = [...counts].filter(([, count]) => count !== 1);
    assert.deepEqual(wrong, [], "no effect applied twice");
    for (let sequence = 1; sequence <= EVENTS; sequence++) assert.equal(counts.get(sequence), 1, `event ${sequence}`);
    assert.ok(committedDuring > 100, `the producer kept committing while the broker was down (${committedDuring})`);
    assert.ok(stoppedFor >= OUTAGE_MS);
    const calls = await setup.consumerDb.db.selectFrom("handler_calls").select("id").execute();
    t.diagnostic(
      `broker stopped ${stoppedFor} ms, reachable again after ${downFor} ms; ${committedDuring} commits during the outage; ${appliedDuring} effects before the restart; ` +
        `${calls.length} handler calls for ${EVENTS} events`,
    );
  });
});
