// Each deployable started alone, exactly as `npm run start -w services/<name>` does: the test runs
// the package's own "start" script command line in the package folder.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient, createLogger } from "@obfy/kit";
import { UNAVAILABLE_NOTICE } from "@obfy/marketplace";
import { legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { serviceNodeFlags } from "../scripts/service-node-flags.mjs";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { getPage, logRecords } from "./support/pages.js";
import { freePort, waitForGrpcServing, waitForHttpReady } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const STARTUP_MS = 90_000;

/** Starts services/<name> with its package.json "start" script (which must be `node …`). */
function startService(name: string, env: Record<string, string>): LoggedProcess {
  const dir = join(repoRoot, "services", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const script = pkg.scripts.start;
  assert.equal(script, ["node", ...serviceNodeFlags(name), "dist/main.bundle.js"].join(" "), `${name}'s start script`);
  const [, ...args] = script.split(" ");
  return spawnLogged(process.execPath, args, {
    cwd: dir,
    // Any free metrics port, so parallel test files never clash on the defaults (9464/9465).
    env: { ...process.env, HOST: "127.0.0.1", LOG_FORMAT: "json", METRICS_PORT: "0", ...env },
  });
}

async function stopGracefully(service: LoggedProcess): Promise<void> {
  service.kill("SIGTERM");
  const exit = await service.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, service.lines.join("\n"));
  assert.ok(logRecords(service.lines).some((r) => r.msg === "Shut down gracefully"));
}

describe("each service starts on its own", () => {
  it("recommendations serves both APIs on PORT and stops on SIGTERM", async (t) => {
    const port = await freePort();
    const service = startService("recommendations", { PORT: String(port) });
    t.after(() => service.stop());
    await waitForGrpcServing(port, STARTUP_MS);

    const logger = createLogger({ name: "service-start-test", level: "silent" });
    const v1 = createClient(recommendationsV1.RecommendationsServiceService, `127.0.0.1:${port}`, { logger });
    const legacy = createClient(legacyRecommendations.RecommendationsService, `127.0.0.1:${port}`, { logger });
    t.after(() => {
      v1.close();
      legacy.close();
    });
    const current = await v1.recommend(
      recommendationsV1.RecommendRequest.fromPartial({
        category: recommendationsV1.BookCategory.BOOK_CATEGORY_SELF_HELP,
      }),
    );
    assert.deepEqual(current.recommendations.map((b) => b.id).sort(), [7, 8, 9]);
    const old = await legacy.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.MYSTERY,
      maxResults: 2,
    });
    assert.equal(old.recommendations.length, 2);

    await stopGracefully(service);
  });

  it("recommendations refuses to start with a clear message when BOOKS_FILE is wrong", async (t) => {
    const missing = join(repoRoot, "does-not-exist", "books.json");
    const service = startService("recommendations", { PORT: "0", BOOKS_FILE: missing });
    t.after(() => service.stop());
    assert.deepEqual(await service.exited, { code: 1, signal: null });
    const fatal = logRecords(service.lines).find((r) => r.level === 60);
    assert.ok(fatal, service.lines.join("\n"));
    assert.equal(fatal.msg, `Cannot start: Invalid book catalogue ${missing}: cannot be read (file not found)`);
    assert.ok(!service.lines.join("\n").includes("    at "), "no stack trace");
  });

  it("marketplace serves the degraded homepage when its services are absent, and stops on SIGTERM", async (t) => {
    const port = await freePort();
    const nobody = `127.0.0.1:${await freePort()}`;
    const absent = Object.fromEntries(
      [
        "CATALOG",
        "INVENTORY",
        "ACCOUNTS",
        "REVIEWS",
        "RECOMMENDATIONS",
        "CART",
        "ORDERS",
        "PAYMENTS",
        "NOTIFICATIONS",
      ].map((name) => [`${name}_ADDRESS`, nobody]),
    );
    const service = startService("marketplace", { PORT: String(port), ...absent });
    t.after(() => service.stop());
    await waitForHttpReady(`http://127.0.0.1:${port}/healthz`, STARTUP_MS);
    const page = await getPage(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>Online Books For You<\/title>/);
    // Each section says it is unavailable, in place of its books.
    assert.ok(page.body.split(UNAVAILABLE_NOTICE).length - 1 >= 3, page.body);
    assert.ok(!page.body.includes('<ul class="books">'), "no section lists books");
    // An answer, not a hang: the call to the absent service fails fast (its deadline is far longer).
    assert.ok(page.ms < 5000, `took ${Math.round(page.ms)} ms`);
    await stopGracefully(service);
  });

  it("marketplace refuses a bad PORT with a clear message", async (t) => {
    const service = startService("marketplace", { PORT: "abc" });
    t.after(() => service.stop());
    assert.deepEqual(await service.exited, { code: 1, signal: null });
    const fatal = logRecords(service.lines).find((r) => r.level === 60);
    assert.equal(fatal?.msg, 'Cannot start: PORT must be an integer between 0 and 65535, got "abc"');
  });
});
