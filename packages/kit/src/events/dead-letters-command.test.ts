// `npm run dead-letters` against real dead letters on both transports.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { kitTestingEventsV1 } from "@obfy/protos";
import { createHarness, effectCounts, type Harness, recordingHandler, waitFor } from "./fixtures/harness.js";
import { NonRetryableError } from "./handler.js";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

async function deadLetters(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "scripts/dead-letters.ts", ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? -1, stdout: failure.stdout ?? "", stderr: failure.stderr ?? "" };
  }
}

for (const transport of ["amqp", "postgres"] as const) {
  describe(`npm run dead-letters (EVENT_BUS=${transport})`, { timeout: 180_000 }, () => {
    let harness: Harness;
    before(async () => {
      harness = await createHarness(transport);
    });
    after(() => harness?.cleanup());

    it("lists, counts, replays and discards, and says clearly what is wrong", async () => {
      const producerDb = await harness.database();
      const consumerDb = await harness.database();
      let cured = false;
      const consumer = harness.bus({ service: "eta", database: consumerDb, relay: false }).subscribe(
        kitTestingEventsV1.CounterIncremented,
        recordingHandler(consumerDb, "eta", "1", () => {
          if (!cured) throw new NonRetryableError("the counter does not exist");
        }),
      );
      await consumer.start();
      const producer = harness.bus({ service: "cli-shop", database: producerDb });
      await producer.start();
      const ids: string[] = [];
      for (const sequence of [1, 2]) {
        ids.push(
          await producerDb.db.transaction().execute((trx) =>
            producer.publish(trx, kitTestingEventsV1.CounterIncremented, {
              counterId: "c1",
              amount: 1,
              sequence,
              note: "",
            }),
          ),
        );
      }
      await waitFor("two dead letters", async () => (await consumer.deadLetters.count("eta")) === 2, {
        timeoutMs: 30_000,
      });
      const env = harness.env();

      const list = await deadLetters(env, "list", "eta");
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^2 of 2 dead letters of eta/);
      for (const id of ids)
        assert.match(list.stdout, new RegExp(`^${id}\\tkit\\.testing\\.events\\.v1\\.CounterIncremented\\t`, "m"));
      assert.match(list.stdout, /NonRetryableError: the counter does not exist/);
      const json = await deadLetters(env, "list", "eta", "--json", "--limit", "1");
      const lines = json.stdout.trim().split("\n");
      assert.equal(lines.length, 1);
      // Oldest first; the two failed at about the same moment, in either order.
      assert.ok(ids.includes(JSON.parse(lines[0] ?? "{}").id));

      cured = true;
      const replay = await deadLetters(env, "replay", "eta", ids[0] as string);
      assert.equal(replay.stdout.trim(), "replayed 1", replay.stderr);
      await waitFor("the replayed event's effect", async () => (await effectCounts(consumerDb.db)).get(1) === 1);
      assert.equal((await deadLetters(env, "count", "eta")).stdout.trim(), "1");
      assert.equal((await deadLetters(env, "discard", "eta", "--all")).stdout.trim(), "discarded 1");
      assert.equal((await deadLetters(env, "count", "eta")).stdout.trim(), "0");
      assert.equal((await effectCounts(consumerDb.db)).get(2), undefined);

      const unknown = await deadLetters(env, "count", "nobody");
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^dead-letters: there is no dead-letter queue .*nobody\.dead-letters/);
      assert.doesNotMatch(unknown.stderr, /\n\s+at /, "no stack trace");
      const bad = await deadLetters(env, "replay", "eta");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /replay needs ids, or --all/);
    });
  });
}
