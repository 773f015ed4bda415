// `npm run bench:shoppers` at a tiny scale, as a user runs it: the command starts the whole store
// through npm start's launcher (every service from its production bundle, fresh data, free
// ports), sends 10 shopper sessions (every visit of the mix, one of them buying) and prints its
// report as JSON. It asserts the checks, never a speed: zero failures, every page kind asked for,
// and the order settled. The store's start (15–45 s here, with the machine's load) is most of its time.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SERVICES } from "../scripts/services.mjs";
import { repoRoot } from "./lib/procs.js";
import { PAGE_KINDS, type ShopperMixReport, VISITS, visitCycle } from "./shopper-mix.js";

for (const { name } of SERVICES) {
  if (!existsSync(join(repoRoot, "services", name, "dist", "main.bundle.js"))) {
    throw new Error(`services/${name}/dist/main.bundle.js is missing: run \`npm run build\` first`);
  }
}

/** Runs the command to its end (bounded), with its stdout and the tail of its stderr. */
function shopperMix(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", join(repoRoot, "bench", "shopper-mix.ts"), ...args],
      // A page's calls get 5 s instead of 1.5 (CALL_TIMEOUT_MS): on a loaded machine the default
      // deadline turns a slow answer into a 503, and this test checks answers, not speed.
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CALL_TIMEOUT_MS: "5000" } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    // The store starts in 15–45 s here; the order's own bound is 60 s; stopping takes a few.
    const timer = setTimeout(() => child.kill("SIGINT"), 170_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("npm run bench:shoppers", () => {
  it("the default mix interleaves its visits, so ten sessions see each", () => {
    const cycle = visitCycle({ browse: 4, search: 3, cart: 2, buy: 1 });
    assert.equal(cycle.length, 10);
    for (const visit of VISITS) assert.ok(cycle.includes(visit), visit);
    assert.deepEqual(visitCycle({ browse: 0, search: 0, cart: 0, buy: 2 }), ["buy", "buy"]);
  });

  it("10 sessions against the whole store: every page kind asked for, zero failed checks, the order settled", {
    timeout: 180_000,
  }, async () => {
    const { code, stdout, stderr } = await shopperMix([
      "--sessions",
      "10",
      "--rate",
      "4",
      "--arrivals",
      "even",
      "--think-ms",
      "50",
      "--json",
    ]);
    const line = stdout.trim().split("\n").at(-1) ?? "";
    assert.ok(line.startsWith("{"), `a JSON report on stdout (exit ${code}):\n${stdout}\n${stderr}`);
    const { runs } = JSON.parse(line) as { runs: ShopperMixReport[] };
    assert.equal(runs.length, 1);
    const report = runs[0] as ShopperMixReport;
    assert.deepEqual(report.correctness.samples, [], "no failure described");
    assert.equal(report.correctness.failures, 0);
    assert.equal(code, 0, "exits 0 when every check passed");
    assert.equal(report.sessions.started, 10);
    assert.equal(report.sessions.failed, 0);
    for (const kind of PAGE_KINDS) {
      const page = report.pages[kind];
      assert.ok(page.requests > 0, `${kind} was asked for`);
      assert.equal(page.errors + page.checkFailures, 0, kind);
      assert.ok(page.latencyMs.p50 > 0 && page.latencyMs.p99 >= page.latencyMs.p50, `${kind} has latencies`);
    }
    assert.equal(report.orders.placed, 1);
    assert.equal(report.orders.confirmed + report.orders.cancelled, 1, "the order settled");
    assert.equal(report.orders.unsettled, 0);
  });
});
