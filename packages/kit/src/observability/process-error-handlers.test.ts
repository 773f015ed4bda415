import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("./fixtures/process-errors.ts", import.meta.url));

interface Run {
  code: number | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

function run(mode: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fixture, mode], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, lines, stderr });
    });
  });
}

describe("installProcessErrorHandlers", () => {
  it("logs an uncaught exception once with its stack, then exits 1", async () => {
    const { code, lines, stderr } = await run("throw");
    assert.equal(code, 1, stderr);
    const fatal = lines.filter((line) => line.kind === "uncaught_exception");
    assert.equal(fatal.length, 1);
    const err = fatal[0]?.err as { message?: string; stack?: string };
    assert.equal(fatal[0]?.level, 60);
    assert.equal(err.message, "kaboom");
    assert.match(err.stack ?? "", /process-errors\.ts/);
    assert.doesNotMatch(stderr, /kaboom/, "Node's own crash print is replaced by the log line");
  });

  it("exits 1 on an unhandled rejection by default", async () => {
    const { code, lines } = await run("rejection");
    assert.equal(code, 1);
    const line = lines.find((l) => l.kind === "unhandled_rejection");
    assert.equal((line?.err as { message?: string } | undefined)?.message, "nobody caught me");
    assert.equal(line?.msg, "Unhandled promise rejection: exiting");
  });

  it("logs and counts an unhandled rejection and keeps running when told to", async () => {
    const { code, lines } = await run("rejection-keep-running");
    assert.equal(code, 0);
    assert.equal(lines.filter((l) => l.kind === "unhandled_rejection").length, 1);
    const survivor = lines.find((l) => l.msg === "still running");
    assert.equal(survivor?.metrics_line, 'process_unhandled_errors_total{kind="unhandled_rejection"} 1');
  });
});
