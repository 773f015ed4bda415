// The allocation sampler (alloc-sampler.mjs, preloaded into a real child process and switched by
// SIGUSR2) and its summary (alloc-profile.ts): a child allocates a known number of records in a
// named function, keeping one in ten; the "allocated" window must put that function on top with
// a plausible size per record, and the "survived" window must count only the kept tenth.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { summariseAllocations } from "./alloc-profile.js";

const SAMPLER = fileURLToPath(new URL("./alloc-sampler.mjs", import.meta.url));
const RECORDS = 200_000;

// Each record: an object with three fields, a fresh string and a three-element array.
const CHILD = `
const kept = [];
function allocateRecords(count) {
  let last;
  for (let i = 0; i < count; i++) {
    last = { id: i, name: "record-" + i, values: [i, i + 1, i + 2] };
    if (i % 10 === 0) kept.push(last);
  }
  return last;
}
process.stdin.setEncoding("utf8");
let buffered = "";
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf("\\n")) >= 0) {
    const command = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    if (command === "allocate") {
      allocateRecords(${RECORDS});
      process.stdout.write("allocated\\n");
    }
  }
});
process.stdout.write("ready\\n");
`;

describe("allocation sampler", () => {
  let dir: string;
  let child: ChildProcess;
  let lines: AsyncIterator<string>;

  const nextLine = async (): Promise<string> => {
    const next = await lines.next();
    if (next.done) throw new Error("the child exited");
    return next.value;
  };
  const waitForFile = async (file: string): Promise<void> => {
    for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.ok(existsSync(file), `${file} was not written`);
  };
  /** One sampled window around one batch of records; returns the profile's path. */
  const sampleWindow = async (n: number): Promise<string> => {
    child.kill("SIGUSR2");
    // The session starts asynchronously (two inspector round trips).
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.stdin?.write("allocate\n");
    assert.equal(await nextLine(), "allocated");
    child.kill("SIGUSR2");
    const file = join(dir, `profile.${n}.heapprofile`);
    await waitForFile(file);
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "alloc-sampler-test-"));
    const script = join(dir, "child.mjs");
    writeFileSync(script, CHILD);
    child = spawn(process.execPath, ["--import", SAMPLER, script], {
      env: { ...process.env, ALLOC_SAMPLER_OUT: join(dir, "profile") },
      stdio: ["pipe", "pipe", "inherit"],
    });
    lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    assert.equal(await nextLine(), "ready");
  });

  after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("attributes what a window allocated to the function that allocated it, per call", async () => {
    const summary = summariseAllocations(await sampleWindow(0), RECORDS, 3);
    const top = summary.topFunctions[0];
    assert.ok(top, "no functions in the profile");
    assert.match(top.name, /^allocateRecords .*child\.mjs:\d+$/);
    // An object with three fields, a short string and a three-element array: tens to a few
    // hundred bytes on a 64-bit V8, whatever the exact layout.
    assert.ok(top.bytesPerCall > 60 && top.bytesPerCall < 400, `allocateRecords: ${top.bytesPerCall} B per record`);
    assert.ok(summary.bytesPerCall >= top.bytesPerCall);
    assert.equal(summary.byArea[0]?.area, "other");
  });

  it("counts only what outlived a young collection in the survivors window", async () => {
    const allocated = summariseAllocations(join(dir, "profile.0.heapprofile"), RECORDS, 3).topFunctions[0];
    const survived = summariseAllocations(await sampleWindow(1), RECORDS, 3).topFunctions.find((f) =>
      f.name.startsWith("allocateRecords "),
    );
    assert.ok(allocated && survived, "allocateRecords missing from a window");
    // One record in ten is kept; the rest die young. Sampling is random, so allow a wide band
    // around a tenth: it still fails if the survivors window counted everything (ratio ≈ 1) or
    // nothing.
    const ratio = survived.bytesPerCall / allocated.bytesPerCall;
    assert.ok(ratio > 0.04 && ratio < 0.3, `survivors are ${(ratio * 100).toFixed(1)} % of allocations`);
  });
});
