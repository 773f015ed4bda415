// runUntilSignalled in process, on a signal no one else listens to (process.emit reaches only
// JavaScript listeners). The real SIGTERM path, with a kit server in a child process, is tested
// in server/run-until-signalled.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { runUntilSignalled } from "./run-until-signalled.js";

function capture() {
  const lines: { msg: string }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
  return { logger, lines };
}

describe("runUntilSignalled", () => {
  it("shuts down once on the first signal, ignores a second one, and resolves 0", async () => {
    const { logger, lines } = capture();
    const listenersBefore = process.listenerCount("SIGURG");
    let shutdowns = 0;
    let release: () => void = () => {};
    const done = runUntilSignalled(
      {
        logger,
        shutdown: () => {
          shutdowns++;
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
      { signals: ["SIGURG"], exit: false },
    );
    process.emit("SIGURG", "SIGURG");
    process.emit("SIGURG", "SIGURG");
    assert.equal(shutdowns, 1);
    assert.ok(lines.some((line) => line.msg.startsWith("Already shutting down")));
    release();
    assert.equal(await done, 0);
    assert.equal(process.listenerCount("SIGURG"), listenersBefore, "its listeners are gone");
  });

  it("resolves 1 and logs when shutting down fails; onShutdown runs only after a good shutdown", async () => {
    const { logger, lines } = capture();
    let flushed = false;
    const done = runUntilSignalled(
      { shutdown: () => Promise.reject(new Error("stuck")) },
      {
        logger,
        signals: ["SIGURG"],
        exit: false,
        onShutdown: () => {
          flushed = true;
        },
      },
    );
    process.emit("SIGURG", "SIGURG");
    assert.equal(await done, 1);
    assert.equal(flushed, false);
    assert.ok(lines.some((line) => line.msg === "Shutdown failed"));
  });

  it("takes a target that is still starting: a signal meanwhile stops it once it has started", async () => {
    const { logger } = capture();
    const events: string[] = [];
    let started: (target: { shutdown(): Promise<void> }) => void = () => {};
    const starting = new Promise<{ shutdown(): Promise<void> }>((resolve) => {
      started = resolve;
    });
    const done = runUntilSignalled(starting, { logger, signals: ["SIGURG"], exit: false });
    process.emit("SIGURG", "SIGURG");
    await new Promise((resolve) => setImmediate(resolve));
    events.push("started");
    started({
      shutdown: async () => {
        events.push("shutdown");
      },
    });
    assert.equal(await done, 0);
    assert.deepEqual(events, ["started", "shutdown"], "shut down only after it had started");
  });

  it("needs a logger when the target is a promise", () => {
    assert.throws(
      () => runUntilSignalled(new Promise<never>(() => {}), { signals: ["SIGURG"], exit: false }),
      /logger/,
    );
  });
});
