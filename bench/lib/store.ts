/**
 * The whole store as `npm start` runs it (scripts/start.mjs: every service from its production
 * bundle, an embedded PostgreSQL, the PostgreSQL event bus), started for one benchmark run: its
 * data in a fresh temporary folder, every service and the embedded PostgreSQL on free loopback
 * ports, metrics on any free port (METRICS_PORT=0), so it never clashes with a store a developer
 * runs on the default ports. Stopped with SIGINT as a person would (the launcher drains every
 * service, then stops PostgreSQL), SIGKILL after a bound; the data folder is deleted after.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { SERVICES, variablePrefix } from "../../scripts/services.mjs";
import { freePort, type Proc, repoRoot, start } from "./procs.js";

/** A store started by {@link startStore}. */
export interface StartedStore {
  /** The Marketplace, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The launcher's pid (it started every service and PostgreSQL). */
  readonly pid: number;
  /** From spawning the launcher until the homepage lists books, ms. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Answers when the homepage is served with its featured books, i.e. the Catalog has seeded. */
async function homepageReady(url: string): Promise<boolean> {
  const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
  return response.status === 200 && (await response.text()).includes('href="/books/');
}

/**
 * Starts scripts/start.mjs with `env` added (e.g. `RATE_LIMIT_MAX`) and waits, up to
 * `timeoutMs`, until the Marketplace's homepage lists books.
 */
export async function startStore(env: Readonly<Record<string, string>>, timeoutMs = 180_000): Promise<StartedStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "obfy-shoppers-"));
  // When run as root, PostgreSQL runs as the OS user postgres, which must be able to enter it.
  chmodSync(dataDir, 0o755);
  const ports: Record<string, string> = {};
  for (const service of SERVICES) ports[`${variablePrefix(service.name)}_PORT`] = String(await freePort());
  const url = `http://127.0.0.1:${ports.MARKETPLACE_PORT}`;
  const began = performance.now();
  const launcher: Proc = start([process.execPath, join(repoRoot, "scripts", "start.mjs")], {
    env: {
      ...ports,
      DATA_DIR: join(dataDir, "data"),
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
      METRICS_PORT: "0",
      HOST: "127.0.0.1",
      RECOMMENDATIONS_HOST: "127.0.0.1",
      LOG_FORMAT: "json",
      DATABASE_URL: "",
      ...env,
    },
  });
  const stop = async (): Promise<void> => {
    if (launcher.child.exitCode === null && launcher.child.signalCode === null) {
      launcher.child.kill("SIGINT");
      const exited = new Promise((resolve) => launcher.child.once("exit", resolve));
      if ((await Promise.race([exited, delay(60_000, "timeout")])) === "timeout") await launcher.stop(1000);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (launcher.child.exitCode !== null) {
        throw new Error(`the store exited (${launcher.child.exitCode}): ${launcher.output().slice(-1500)}`);
      }
      if (await homepageReady(url).catch(() => false)) break;
      if (performance.now() > deadline) throw new Error(`the store did not serve its homepage within ${timeoutMs} ms`);
      await delay(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: launcher.pid, startMs: performance.now() - began, stop };
}
