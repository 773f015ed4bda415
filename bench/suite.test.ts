/**
 * Runs the whole benchmark suite once in its short mode (BENCH_QUICK=1) through `npm run bench`'s
 * entry script, against the current build, into a temporary folder, and checks that every piece
 * really ran: every server and stack answered its load without failures, the open-loop generator
 * measured, the profile found the Marketplace's code, every start-up was timed, and the results
 * page and chart were written. It asserts no speed: figures from a shared test machine mean
 * nothing, and speed targets belong to `npm run bench` itself.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

it("runs every section of the suite for real and writes the results page", { timeout: 300_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), "obfy-bench-test-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const child = spawn(process.execPath, [join(repoRoot, "scripts", "bench.mjs")], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_QUICK: "1", BENCH_SKIP_BUILD: "1", BENCH_OUT: out },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 280_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, stderr);

  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
  for (const [name, section] of Object.entries(results.sections) as [string, { ok: boolean; error?: string }][]) {
    assert.ok(section.ok, `${name}: ${section.error}`);
  }
  assert.equal(results.throughput.length, 8);
  for (const row of results.throughput) {
    assert.ok(row.reqPerSec > 0 && row.failed === 0, `${row.server} ${row.api}: ${JSON.stringify(row)}`);
  }
  assert.deepEqual(
    results.latency.map((row: { server: string }) => row.server),
    ["service", "bare", "nice"],
  );
  for (const row of results.latency) {
    assert.ok(row.median.ok > 0 && row.median.errors === 0, `${row.server}: ${JSON.stringify(row.median)}`);
    assert.ok(row.median.latencyMs.p99 >= row.median.latencyMs.p50);
  }
  assert.deepEqual(
    results.homepage.map((row: { stack: string }) => row.stack),
    ["ours", "tutorial"],
  );
  for (const row of results.homepage) {
    // A saturated shared machine can push a few calls past the Marketplace's deadline; most pages must be served.
    const served = row.rounds.reduce((sum: number, r: { ok: number }) => sum + r.ok, 0);
    assert.ok(row.reqPerSec > 0 && row.failed < served / 10, JSON.stringify(row));
  }
  const areas = results.profile.areas.map((a: { area: string }) => a.area);
  for (const area of ["service: marketplace", "@obfy/kit", "fastify", "@grpc/grpc-js"]) {
    assert.ok(areas.includes(area), `profile areas: ${areas.join(", ")}`);
  }
  assert.equal(results.startup.length, 6);
  for (const row of results.startup) assert.ok(row.readyMs[0] > 0 && row.idleMb > 0, JSON.stringify(row));
  assert.equal(results.targets.length, 9);
  for (const target of results.targets) assert.equal(typeof target.pass, "boolean", JSON.stringify(target));

  const page = readFileSync(join(out, "results.md"), "utf8");
  assert.match(page, /## Targets/);
  assert.match(page, /nice-grpc/);
  assert.match(page, /Flask/);
  assert.match(readFileSync(join(out, "chart.svg"), "utf8"), /^<svg/);
});
