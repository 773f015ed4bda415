// A producer SIGKILLed between its commit and the publish: the event is in its outbox, and the
// restarted producer's relay delivers it, once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEventProcess } from "./fixtures/child-process.js";
import { createFaultSetup, type FaultSetup } from "./fixtures/fault-setup.js";
import { effectCounts, waitFor } from "./fixtures/harness.js";

for (const transport of ["postgres", "amqp"] as const) {
  describe(`producer SIGKILLed between commit and publish (EVENT_BUS=${transport})`, { timeout: 120_000 }, () => {
    let setup: FaultSetup;
    before(async () => {
      setup = await createFaultSetup(transport);
    });
    after(() => setup?.harness.cleanup());

    it("delivers the committed event after the restart, exactly once", async (t) => {
      const consumer = startEventProcess(setup.consumer());
      t.after(() => consumer.kill());
      await consumer.waitForLine(/^ready$/, 30_000);

      // No LISTEN and a 10-minute poll: its relay cannot run between the commit and the SIGKILL.
      const doomed = startEventProcess(
        setup.producer({ KILL_AFTER_FIRST_COMMIT: "1", EVENT_BUS_OUTBOX_POLL_MS: "600000" }),
      );
      t.after(() => doomed.kill());
      await doomed.waitForLine(/^committed 1$/, 30_000);
      assert.equal((await doomed.exited).signal, "SIGKILL");

      const outbox = await setup.producerDb.db.selectFrom("outbox").select(["event_id", "sent_at"]).execute();
      assert.equal(outbox.length, 1, "the event committed with the state change");
      assert.equal(outbox[0]?.sent_at, null, "and was not published before the kill");
      assert.equal((await effectCounts(setup.consumerDb.db)).size, 0);

      const restarted = startEventProcess(setup.producer({ COUNT: "0", LISTEN: "1" }));
      t.after(() => restarted.kill());
      await waitFor("the event's effect", async () => (await effectCounts(setup.consumerDb.db)).get(1) === 1, {
        timeoutMs: 30_000,
      });
      await waitFor("the outbox row to be marked sent", async () => {
        const rows = await setup.producerDb.db.selectFrom("outbox").select("sent_at").execute();
        return rows.every((row) => row.sent_at !== null);
      });
      assert.deepEqual([...(await effectCounts(setup.consumerDb.db))], [[1, 1]]);
    });
  });
}
