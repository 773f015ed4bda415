import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createLogger } from "./logger.js";

function capture(env: NodeJS.ProcessEnv): { log: ReturnType<typeof createLogger>; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  return { log: createLogger({ name: "svc", destination: stream, env }), text: () => text };
}

describe("createLogger", () => {
  it("writes one JSON object per line with name and level, honouring LOG_LEVEL", () => {
    const { log, text } = capture({ LOG_LEVEL: "warn" });
    log.info("hidden");
    log.warn({ book_id: 7 }, "shown");
    const lines = text().trim().split("\n");
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    assert.equal(line.name, "svc");
    assert.equal(line.level, 40);
    assert.equal(line.msg, "shown");
    assert.equal(line.book_id, 7);
  });

  it("prints human-readable lines with LOG_FORMAT=pretty", () => {
    const { log, text } = capture({ LOG_FORMAT: "pretty" });
    log.info("hello pretty");
    assert.match(text(), /INFO.*\(svc\).*hello pretty|INFO.*hello pretty/);
    assert.throws(() => JSON.parse(text()));
  });

  it("rejects bad LOG_LEVEL and LOG_FORMAT values with a clear message", () => {
    assert.throws(
      () => createLogger({ name: "x", env: { LOG_LEVEL: "loud" } }),
      /LOG_LEVEL must be one of .*got "loud"/,
    );
    assert.throws(() => createLogger({ name: "x", env: { LOG_FORMAT: "xml" } }), {
      message: 'LOG_FORMAT must be "json" or "pretty", got "xml"',
    });
  });
});

describe("createLogger to stdout in a real process", () => {
  const fixture = fileURLToPath(new URL("./testing/fixtures/log-then-exit.ts", import.meta.url));

  function runFixture(env: NodeJS.ProcessEnv): {
    child: ChildProcess;
    lines: string[];
    exited: Promise<number | null>;
  } {
    const child = spawn(process.execPath, [...process.execArgv, fixture], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    let rest = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    });
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    return { child, lines, exited };
  }

  function messages(lines: string[]): string[] {
    return lines.map((line) => {
      const parsed = JSON.parse(line) as { msg: string; i?: number };
      return parsed.i === undefined ? parsed.msg : `${parsed.msg} ${parsed.i}`;
    });
  }

  const expected = (count: number): string[] => [...Array.from({ length: count }, (_, i) => `line ${i + 1}`), "bye"];

  it("writes every buffered line when the process calls process.exit right after logging", async (t) => {
    const run = runFixture({ MODE: "exit", LINES: "1500" });
    t.after(() => run.child.kill("SIGKILL"));
    assert.equal(await run.exited, 3);
    assert.deepEqual(messages(run.lines), expected(1500));
  });

  it("writes every buffered line when the event loop empties", async (t) => {
    const run = runFixture({ MODE: "natural", LINES: "7" });
    t.after(() => run.child.kill("SIGKILL"));
    assert.equal(await run.exited, 0);
    assert.deepEqual(messages(run.lines), expected(7));
  });

  it("delivers a line smaller than the buffer within about a second while the process keeps running", async (t) => {
    const run = runFixture({ MODE: "linger", LINES: "1" });
    t.after(() => run.child.kill("SIGKILL"));
    const started = Date.now();
    while (run.lines.length < 2 && Date.now() - started < 5000) {
      await Promise.race([once(run.child.stdout as Readable, "data"), delay(200)]);
    }
    assert.deepEqual(messages(run.lines), expected(1));
    assert.ok(run.child.exitCode === null, "the child is still running, so no exit flush wrote these lines");
  });
});
