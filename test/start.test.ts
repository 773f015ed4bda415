// `npm start` end to end with real processes: scripts/start.mjs starts the embedded PostgreSQL,
// gives each service its database, and runs every service from dist/ (built by `npm install` /
// `npm run build`).
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { UNAVAILABLE_NOTICE } from "@obfy/marketplace";
import pg from "pg";
import { BUS_DATABASE, SERVICES, variablePrefix } from "../scripts/services.mjs";
import { spawnLogged } from "./support/logged-process.js";
import { getPage, logRecords } from "./support/pages.js";
import { freePorts, waitForGrpcServing, waitForHttpReady } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const START = join(repoRoot, "scripts", "start.mjs");
const RESET = join(repoRoot, "scripts", "reset.mjs");
// Every service starts at once on a 2-core machine, the Catalog seeding its books on the first.
const STARTUP_MS = 120_000;

for (const { name: service } of SERVICES) {
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

/** The environment of a running process, from /proc (Linux). */
function environmentOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(
    entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
}

/** How many books a page section lists (`<li>` items). */
function booksIn(html: string): number {
  return (html.match(/<li[\s>]/g) ?? []).length;
}

/** The HTML of the homepage's section whose heading has this id, e.g. "recommended-heading". */
function section(html: string, headingId: string): string {
  const start = html.indexOf(`id="${headingId}"`);
  assert.ok(start >= 0, `the page has the section ${headingId}`);
  return html.slice(start, html.indexOf("</section>", start));
}

async function query(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

describe("npm start (scripts/start.mjs)", () => {
  // Local data of these tests only (never the developer's .data/), on a port of their own.
  const dataDir = mkdtempSync(join(tmpdir(), "start-data-"));
  // Run as root, PostgreSQL runs as the OS user postgres, which must be able to enter the folder.
  chmodSync(dataDir, 0o755);
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  let postgresPort: number;
  const baseEnv = async (): Promise<NodeJS.ProcessEnv> => {
    // A new port at every start: one freed earlier may have been taken meanwhile, and the data
    // folder does not depend on it.
    const ports = await freePorts(SERVICES.length + 1);
    postgresPort = ports[SERVICES.length] ?? 0;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: join(dataDir, "data"),
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
      // Loopback only, and JSON logs so the test can read them.
      HOST: "127.0.0.1",
      RECOMMENDATIONS_HOST: "127.0.0.1",
      LOG_FORMAT: "json",
      // Any free metrics ports, so parallel test files never clash on the defaults (9464/9465).
      METRICS_PORT: "0",
    };
    // Every service on a free port of its own, never the defaults (other tests use those).
    for (const [i, s] of SERVICES.entries()) env[`${variablePrefix(s.name)}_PORT`] = String(ports[i]);
    delete env.DATABASE_URL;
    return env;
  };

  it("on an empty data folder: initialises PostgreSQL, creates a database per service, runs every service, degrades when Recommendations stops, and exits 0 on SIGINT leaving no PostgreSQL", {
    timeout: 420_000,
  }, async (t) => {
    const env0 = await baseEnv();
    const recommendationsPort = Number(env0.RECOMMENDATIONS_PORT);
    const marketplacePort = Number(env0.MARKETPLACE_PORT);
    const launcher = spawnLogged(process.execPath, [START], { cwd: repoRoot, env: env0 });
    const childPids: number[] = [];
    t.after(async () => {
      // Only on failure is anything left: the services we saw start, then the launcher (whose
      // PostgreSQL manager stops PostgreSQL when the launcher goes away).
      for (const pid of childPids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      await launcher.stop();
    });

    await launcher.waitForLine(
      /starting PostgreSQL 18 \(embedded\) on 127\.0\.0\.1:\d+, .*\(first start: initdb\)/,
      STARTUP_MS,
    );
    const postgresPid = Number(
      (await launcher.waitForLine(/PostgreSQL ready on 127\.0\.0\.1:\d+ \(pid (\d+)/, STARTUP_MS))[1],
    );
    childPids.push(postgresPid);
    const owners = [...SERVICES.filter((s) => s.database).map((s) => s.name), BUS_DATABASE];
    await launcher.waitForLine(new RegExp(`created the databases ${owners.join(", ")}$`), STARTUP_MS);

    const pids = new Map<string, number>();
    for (const { name } of SERVICES) {
      const pid = Number((await launcher.waitForLine(new RegExp(`${name} started \\(pid (\\d+)\\)`), STARTUP_MS))[1]);
      pids.set(name, pid);
      childPids.push(pid);
    }
    const recommendationsPid = pids.get("recommendations") ?? 0;
    const marketplacePid = pids.get("marketplace") ?? 0;
    assert.ok(recommendationsPid > 0 && marketplacePid > 0 && recommendationsPid !== launcher.pid);

    // Recommendations got its own database, as a role of its own that can reach no other.
    const env = environmentOf(recommendationsPid);
    const databaseUrl = new URL(env.DATABASE_URL ?? "");
    assert.equal(databaseUrl.host, `127.0.0.1:${postgresPort}`);
    assert.equal(databaseUrl.pathname, "/recommendations");
    assert.equal(databaseUrl.username, "recommendations");
    assert.equal(env.EVENT_BUS, "postgres");
    assert.match(
      env.EVENT_BUS_DATABASE_URL ?? "",
      new RegExp(`^postgres://bus:[^@]+@127\\.0\\.0\\.1:${postgresPort}/bus$`),
    );
    assert.equal(env.RECOMMENDATIONS_ADDRESS, `127.0.0.1:${recommendationsPort}`);
    assert.equal(environmentOf(marketplacePid).DATABASE_URL, undefined, "the Marketplace keeps no data");
    const who = await query(databaseUrl.href, "select current_user as role, current_database() as db, version()");
    assert.deepEqual([who.rows[0].role, who.rows[0].db], ["recommendations", "recommendations"]);
    assert.match(who.rows[0].version, /^PostgreSQL 18\./);
    await query(databaseUrl.href, "create table survives_restart (id int)");
    const intoBus = new URL(databaseUrl.href);
    intoBus.pathname = "/bus";
    await assert.rejects(query(intoBus.href, "select 1"), /permission denied for database "?bus"?/);

    await waitForGrpcServing(recommendationsPort, STARTUP_MS);
    await waitForHttpReady(`http://127.0.0.1:${marketplacePort}/readyz`, STARTUP_MS);
    await launcher.waitForLine(
      new RegExp(`Online Books For You is ready: open http://localhost:${marketplacePort}/`),
      STARTUP_MS,
    );

    // Every gRPC service answers its health check: the whole store runs.
    for (const s of SERVICES.filter((x) => x.protocol === "grpc")) {
      await launcher.waitForLine(new RegExp(`"msg":"${s.name} started: gRPC on`), STARTUP_MS);
      await waitForGrpcServing(Number(env0[`${variablePrefix(s.name)}_PORT`]), STARTUP_MS);
    }
    // The homepage shows the Catalog's seeded books and Recommendations' choice.
    let home = await getPage(`http://127.0.0.1:${marketplacePort}/`);
    for (let i = 0; i < 60 && booksIn(section(home.body, "featured-heading")) === 0; i++) {
      await new Promise((done) => setTimeout(done, 1000));
      home = await getPage(`http://127.0.0.1:${marketplacePort}/`);
    }
    assert.equal(home.status, 200);
    assert.match(home.body, /<title>Online Books For You<\/title>/);
    assert.ok(booksIn(section(home.body, "featured-heading")) > 0, home.body);
    assert.ok(!section(home.body, "recommended-heading").includes(UNAVAILABLE_NOTICE), home.body);

    // Stop Recommendations alone, by its PID: it drains and exits 0; the Marketplace keeps serving.
    process.kill(recommendationsPid, "SIGTERM");
    await launcher.waitForLine(/\[recommendations\] exited with code 0\b/, 15_000);
    const degraded = await getPage(`http://127.0.0.1:${marketplacePort}/`);
    assert.equal(degraded.status, 200);
    // Only its section degrades: the Catalog's sections still render.
    assert.ok(section(degraded.body, "recommended-heading").includes(UNAVAILABLE_NOTICE), degraded.body);
    assert.ok(booksIn(section(degraded.body, "featured-heading")) > 0, degraded.body);
    // Not a speed target (that is the benchmarks'): a bound that tells a degraded answer from a
    // hang. 1.5 s failed on a loaded 2-core host (1.9 s), with PostgreSQL and a TLS test beside it.
    assert.ok(degraded.ms < 5000, `degraded page took ${Math.round(degraded.ms)} ms`);
    const ready = await waitForHttpReady(`http://127.0.0.1:${marketplacePort}/readyz`, 5000);
    assert.equal((ready as { status: string }).status, "ready");

    launcher.kill("SIGINT");
    const exit = await Promise.race([
      launcher.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`launcher did not exit; its last lines:\n${launcher.lines.slice(-40).join("\n")}`)),
          90_000,
        ).unref(),
      ),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null }, launcher.lines.join("\n"));
    assert.ok(launcher.lines.some((line) => /\[marketplace\] exited with code 0\b/.test(line)));
    for (const [name, pid] of pids) assert.ok(!isAlive(pid), `${name} is not left running`);
    assert.ok(launcher.lines.some((line) => line === "--> PostgreSQL stopped"));
    assert.ok(!isAlive(postgresPid), "no PostgreSQL left running");
    const records = logRecords(launcher.lines);
    assert.ok(records.some((r) => r.name === "marketplace" && r.msg === "Shut down gracefully"));
    for (const { name } of SERVICES.filter((s) => s.protocol === "grpc" && s.name !== "recommendations")) {
      assert.ok(
        records.some((r) => r.name === name && r.msg === "Shut down gracefully"),
        `${name} shut down gracefully`,
      );
    }
    const errors = records.filter((r) => typeof r.level === "number" && r.level >= 50);
    assert.deepEqual(errors, [], "no error or fatal log lines");
  });

  it("a Ctrl-C in the middle of the start-up (SIGINT to the whole process group) stops every service and exits 0", {
    timeout: 300_000,
  }, async (t) => {
    // Its own process group, so the SIGINT reaches the launcher and every service at once, as a
    // terminal sends it: some services are still loading (no handlers yet), others are migrating.
    const launcher = spawnLogged(process.execPath, [START], { cwd: repoRoot, env: await baseEnv(), detached: true });
    const pids: number[] = [];
    t.after(async () => {
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      await launcher.stop();
    });
    pids.push(Number((await launcher.waitForLine(/PostgreSQL ready on 127\.0\.0\.1:\d+ \(pid (\d+)/, STARTUP_MS))[1]));
    // Accounts past its migrations and not yet serving: the window in which a signal was once lost.
    await launcher.waitForLine(/"name":"accounts".*schema is up to date/, STARTUP_MS);
    for (const line of launcher.lines) {
      const m = /--> (\S+) started \(pid (\d+)\)/.exec(line);
      if (m) pids.push(Number(m[2]));
    }
    launcher.killGroup("SIGINT");
    const exit = await Promise.race([
      launcher.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`launcher did not exit; its last lines:\n${launcher.lines.slice(-40).join("\n")}`)),
          90_000,
        ).unref(),
      ),
    ]);
    const output = launcher.lines.join("\n");
    assert.deepEqual(exit, { code: 0, signal: null }, output);
    assert.doesNotMatch(output, /failed \(exit|Sending SIGTERM to other processes|ESRCH/);
    for (const pid of pids) assert.ok(!isAlive(pid), `pid ${pid} is not left running`);
  });

  it("on a second start: reuses the data folder and the databases, exits 0 on SIGINT; npm run reset then deletes them", {
    timeout: 300_000,
  }, async (t) => {
    assert.ok(existsSync(join(dataDir, "data", "postgres", "PG_VERSION")), "the test above made the data folder");
    const launcher = spawnLogged(process.execPath, [START], { cwd: repoRoot, env: await baseEnv() });
    const pids: number[] = [];
    t.after(async () => {
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      await launcher.stop();
    });
    const postgresPid = Number(
      (await launcher.waitForLine(/PostgreSQL ready on 127\.0\.0\.1:\d+ \(pid (\d+)/, STARTUP_MS))[1],
    );
    pids.push(postgresPid);
    const recommendationsPid = Number(
      (await launcher.waitForLine(/recommendations started \(pid (\d+)\)/, STARTUP_MS))[1],
    );
    pids.push(recommendationsPid);
    await launcher.waitForLine(/Online Books For You is ready/, STARTUP_MS);
    // Every service has finished starting before the SIGINT below (a signal in the middle of a
    // start-up is not what this test is about).
    for (const { name } of SERVICES.filter((x) => x.protocol === "grpc")) {
      await launcher.waitForLine(new RegExp(`"msg":"${name} started: gRPC on`), STARTUP_MS);
    }
    const output = launcher.lines.join("\n");
    assert.doesNotMatch(output, /first start|created the databases/);
    const databaseUrl = environmentOf(recommendationsPid).DATABASE_URL ?? "";
    const kept = await query(databaseUrl, "select to_regclass('survives_restart')::text as t");
    assert.equal(kept.rows[0].t, "survives_restart", "what the first start stored is still there");

    // `npm run reset` will not delete the data under a running server.
    const env = await baseEnv();
    const refused = spawnLogged(process.execPath, [RESET], { cwd: repoRoot, env });
    t.after(() => refused.stop());
    assert.deepEqual(await refused.exited, { code: 1, signal: null });
    assert.match(refused.lines.join("\n"), /PostgreSQL is running on .* \(pid \d+\); stop `npm start` first/);

    launcher.kill("SIGINT");
    const exit = await Promise.race([
      launcher.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`launcher did not exit; its last lines:\n${launcher.lines.slice(-40).join("\n")}`)),
          90_000,
        ).unref(),
      ),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null }, launcher.lines.join("\n"));
    assert.ok(!isAlive(postgresPid) && !isAlive(recommendationsPid), "nothing left running");
    for (const line of launcher.lines) {
      const m = /--> (\S+) started \(pid (\d+)\)/.exec(line);
      if (m) assert.ok(!isAlive(Number(m[2])), `${m[1]} is not left running`);
    }

    const reset = spawnLogged(process.execPath, [RESET], { cwd: repoRoot, env });
    t.after(() => reset.stop());
    assert.deepEqual(await reset.exited, { code: 0, signal: null }, reset.lines.join("\n"));
    assert.ok(!existsSync(join(dataDir, "data")), "reset deleted the data folder");
  });

  it("tells the user to build when dist/ is missing, and rejects bad ports", async (t) => {
    // A copy of the script in an empty tree: its services/*/dist are missing.
    const root = mkdtempSync(join(tmpdir(), "start-"));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, "scripts"));
    copyFileSync(START, join(root, "scripts", "start.mjs"));
    for (const file of ["service-node-flags.mjs", "services.mjs"]) {
      copyFileSync(join(repoRoot, "scripts", file), join(root, "scripts", file));
    }
    const unbuilt = spawnLogged(process.execPath, [join(root, "scripts", "start.mjs")], {
      cwd: root,
      env: process.env,
    });
    t.after(() => unbuilt.stop());
    assert.deepEqual(await unbuilt.exited, { code: 1, signal: null });
    const message = unbuilt.lines.join("\n");
    assert.match(message, new RegExp(`services/${SERVICES[0]?.name}/dist/main\\.bundle\\.js is missing`));
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
