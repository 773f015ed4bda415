// A consumer SIGKILLed in the middle of a handler: the event comes again, to the restarted
// consumer, and its effect is applied once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEventProcess } from "./fixtures/child-process.js";
import { createFaultSetup, type FaultSetup } from "./fixtures/fault-setup.js";
import { effectCounts, waitFor } from "./fixtures/harness.js";

for (const transport of ["postgres", "amqp"] as const) {
  describe(`consumer SIGKILLed mid-handler (EVENT_BUS=${transport})`, { timeout: 150_000 }, () => {
    let setup: FaultSetup;
    before(async () => {
      setup = await createFaultSetup(transport);
    });
    after(() => setup?.harness.cleanup());

    it("redelivers the event and applies its effect once", async (t) => {
      const first = startEventProcess(setup.consumer({ HANG_ON_SEQ: "1" }));
      t.after(() => first.kill());
      await first.waitForLine(/^ready$/, 30_000);
      const producer = startEventProcess(setup.producer({ COUNT: "5", LISTEN: "1" }));
      t.after(() => producer.kill());

      await first.waitForLine(/^in-handler 1$/, 30_000);
      await first.kill();
      // Its effect was written inside the handler's transaction, which died with it.
      assert.equal((await effectCounts(setup.consumerDb.db)).get(1), undefined);

      const second = startEventProcess(setup.consumer());
      t.after(() => second.kill());
      await second.waitForLine(/^ready$/, 30_000);
      // pg-boss gives the job back once its heartbeat (10 s here) has lapsed; RabbitMQ at once.
      await waitFor(
        "all five effects",
        async () => {
          const counts = await effectCounts(setup.consumerDb.db);
          return [1, 2, 3, 4, 5].every((sequence) => counts.has(sequence));
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      const counts = await effectCounts(setup.consumerDb.db);
      assert.deepEqual(
        [...counts].sort((x, y) => x[0] - y[0]),
        [1, 2, 3, 4, 5].map((sequence) => [sequence, 1]),
      );
      const calls = await setup.consumerDb.db
        .selectFrom("handler_calls")
        .select("attempt")
        .where("sequence", "=", "1")
        .execute();
      assert.ok(calls.length >= 2, `event 1 was handled again after the kill (${calls.length} calls)`);
    });
  });
}
