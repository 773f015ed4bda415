import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { dummyClient } from "../testing/index.js";
import { createEventLoopMonitor } from "./event-loop-monitor.js";
import { createWorkerPool } from "./worker-pool.js";

describe("event loop", () => {
  it("overlaps calls that wait on I/O: five concurrent 300 ms calls take about as long as one", async (t) => {
    const client = await dummyClient({
      specialCases: {
        io: async () => {
          await delay(300);
          return { output: "done" };
        },
      },
    });
    t.after(() => client.close());
    let started = performance.now();
    await client.execute("io");
    const single = performance.now() - started;
    started = performance.now();
    const outputs = await Promise.all(Array.from({ length: 5 }, () => client.execute("io")));
    const five = performance.now() - started;
    assert.deepEqual(
      outputs.map((o) => o.output),
      ["done", "done", "done", "done", "done"],
    );
    assert.ok(single >= 290, `single call took ${single} ms`);
    assert.ok(five < 2 * single, `five concurrent calls took ${five} ms, one took ${single} ms`);
  });

  it("keeps answering cheap calls while a CPU-heavy call runs on the worker pool", async (t) => {
    const pool = createWorkerPool<{ ms: number }, number>({
      filename: new URL("./fixtures/cpu-task.ts", import.meta.url),
      maxThreads: 1,
    });
    t.after(() => pool.destroy());
    let cpuDone = false;
    const client = await dummyClient({
      specialCases: {
        cpu: async (_request, context) => {
          const iterations = await pool.run({ ms: 1500 }, { signal: context.signal });
          cpuDone = true;
          return { output: String(iterations) };
        },
      },
    });
    t.after(() => client.close());
    // Warm the pool so thread start-up (tsx in the worker) is not part of the measurement.
    await pool.run({ ms: 1 });

    const cpuCall = client.execute("cpu");
    await delay(200);
    const started = performance.now();
    assert.equal((await client.execute("ping")).output, "ping");
    const cheap = performance.now() - started;
    assert.equal(cpuDone, false, "the cheap call answered while the CPU job was still running");
    assert.ok(cheap < 500, `cheap call took ${cheap} ms during the CPU job`);
    assert.ok(Number((await cpuCall).output) > 0);
  });

  it("measures event-loop delay caused by blocking work", async () => {
    const monitor = createEventLoopMonitor({ resolutionMs: 10 });
    try {
      await delay(50);
      const until = Date.now() + 200;
      while (Date.now() < until) {
        // Blocking on purpose: the monitor must notice.
      }
      await delay(50);
      const snapshot = monitor.snapshot();
      assert.ok(snapshot.maxMs >= 150, `max delay ${snapshot.maxMs} ms`);
      assert.ok(snapshot.p50Ms <= snapshot.p99Ms && snapshot.p99Ms <= snapshot.maxMs + 1);
      monitor.reset();
      assert.equal(monitor.snapshot().maxMs, 0);
    } finally {
      monitor.stop();
    }
  });
});
