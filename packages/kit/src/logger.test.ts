import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
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
