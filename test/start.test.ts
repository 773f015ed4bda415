// `npm start` end to end with real processes: scripts/start.mjs runs both services from dist/
// (built by `npm install` / `npm run build`).
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { UNAVAILABLE_NOTICE } from "@obfy/marketplace";
import { spawnLogged } from "./support/logged-process.js";
import { getPage, listItems, logRecords, MYSTERY_TITLES } from "./support/pages.js";
import { freePort, waitForGrpcServing, waitForHttpReady } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const START = join(repoRoot, "scripts", "start.mjs");
const STARTUP_MS = 30_000;

for (const service of ["recommendations", "marketplace"]) {
  if (!existsSync(join(repoRoot, "services", service, "dist", "main.bundle.js"))) {
    throw new Error(
      `services/${service}/dist/main.bundle.js is missing: run \`npm run build\` before the system tests`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm start (scripts/start.mjs)", () => {
  it("runs both services, degrades when Recommendations stops, and exits 0 on SIGINT", async (t) => {
    const recommendationsPort = await freePort();
    const marketplacePort = await freePort();
    const launcher = spawnLogged(process.execPath, [START], {
      cwd: repoRoot,
      env: {
        ...process.env,
        RECOMMENDATIONS_PORT: String(recommendationsPort),
        MARKETPLACE_PORT: String(marketplacePort),
        // Loopback only, and JSON logs so the test can read them.
        HOST: "127.0.0.1",
        RECOMMENDATIONS_HOST: "127.0.0.1",
        LOG_FORMAT: "json",
        // Any free metrics ports, so parallel test files never clash on the defaults (9464/9465).
        METRICS_PORT: "0",
      },
    });
    const childPids: number[] = [];
    t.after(async () => {
      // Only on failure is anything left: the services we saw start, then the launcher.
      for (const pid of childPids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      await launcher.stop();
    });

    const recommendationsPid = Number(
      (await launcher.waitForLine(/recommendations started \(pid (\d+)\)/, STARTUP_MS))[1],
    );
    const marketplacePid = Number((await launcher.waitForLine(/marketplace started \(pid (\d+)\)/, STARTUP_MS))[1]);
    childPids.push(recommendationsPid, marketplacePid);
    assert.ok(recommendationsPid > 0 && marketplacePid > 0 && recommendationsPid !== launcher.pid);

    await waitForGrpcServing(recommendationsPort, STARTUP_MS);
    await waitForHttpReady(`http://127.0.0.1:${marketplacePort}/readyz`, STARTUP_MS);
    await launcher.waitForLine(
      new RegExp(`Online Books For You is ready: open http://localhost:${marketplacePort}/`),
      STARTUP_MS,
    );

    const home = await getPage(`http://127.0.0.1:${marketplacePort}/`);
    assert.equal(home.status, 200);
    assert.match(home.body, /<title>Online Books For You<\/title>/);
    assert.match(home.body, /<h1>Mystery books you may like<\/h1>/);
    const books = listItems(home.body);
    assert.equal(books.length, 3, home.body);
    assert.deepEqual([...books].sort(), [...MYSTERY_TITLES].sort());

    // Stop Recommendations alone, by its PID: it drains and exits 0; the Marketplace keeps serving.
    process.kill(recommendationsPid, "SIGTERM");
    await launcher.waitForLine(/\[recommendations\] exited with code 0\b/, 15_000);
    const degraded = await getPage(`http://127.0.0.1:${marketplacePort}/`);
    assert.equal(degraded.status, 200);
    assert.match(degraded.body, /<h1>Mystery books you may like<\/h1>/);
    assert.ok(degraded.body.includes(UNAVAILABLE_NOTICE), degraded.body);
    assert.deepEqual(listItems(degraded.body), []);
    assert.ok(degraded.ms < 1500, `degraded page took ${Math.round(degraded.ms)} ms`);
    const ready = await waitForHttpReady(`http://127.0.0.1:${marketplacePort}/readyz`, 5000);
    assert.equal((ready as { status: string }).status, "ready");

    launcher.kill("SIGINT");
    const exit = await Promise.race([
      launcher.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("launcher did not exit")), 30_000).unref()),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null }, launcher.lines.join("\n"));
    assert.ok(launcher.lines.some((line) => /\[marketplace\] exited with code 0\b/.test(line)));
    assert.ok(!isAlive(marketplacePid) && !isAlive(recommendationsPid), "no service left running");
    const records = logRecords(launcher.lines);
    assert.ok(records.some((r) => r.name === "marketplace" && r.msg === "Shut down gracefully"));
    assert.ok(records.some((r) => r.name === "recommendations" && r.msg === "Shut down gracefully"));
    const errors = records.filter((r) => typeof r.level === "number" && r.level >= 50);
    assert.deepEqual(errors, [], "no error or fatal log lines");
  });

  it("tells the user to build when dist/ is missing, and rejects bad ports", async (t) => {
    // A copy of the script in an empty tree: its services/*/dist are missing.
    const root = mkdtempSync(join(tmpdir(), "start-"));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, "scripts"));
    copyFileSync(START, join(root, "scripts", "start.mjs"));
    copyFileSync(join(repoRoot, "scripts", "service-node-flags.mjs"), join(root, "scripts", "service-node-flags.mjs"));
    const unbuilt = spawnLogged(process.execPath, [join(root, "scripts", "start.mjs")], {
      cwd: root,
      env: process.env,
    });
    t.after(() => unbuilt.stop());
    assert.deepEqual(await unbuilt.exited, { code: 1, signal: null });
    const message = unbuilt.lines.join("\n");
    assert.match(message, /services\/recommendations\/dist\/main\.bundle\.js is missing/);
    assert.match(message, /Run `npm run build`/);

    const badPort = spawnLogged(process.execPath, [START], {
      cwd: repoRoot,
      env: { ...process.env, MARKETPLACE_PORT: "five thousand" },
    });
    t.after(() => badPort.stop());
    assert.deepEqual(await badPort.exited, { code: 1, signal: null });
    assert.match(
      badPort.lines.join("\n"),
      /MARKETPLACE_PORT must be an integer between 1 and 65535, got "five thousand"/,
    );
  });
});
