/**
 * The whole store as `npm start` runs it (scripts/start.mjs: every service from its production
 * bundle, an embedded PostgreSQL, the PostgreSQL event bus), started for one benchmark run: its
 * data in a fresh temporary folder, every service and the embedded PostgreSQL on free loopback
 * ports, metrics on any free port (METRICS_PORT=0), so it never clashes with a store a developer
 * runs on the default ports. Stopped with SIGINT as a person would (the launcher drains every
 * service, then stops PostgreSQL), SIGKILL after a bound; the data folder is deleted after.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { SERVICES, variablePrefix } from "../../scripts/services.mjs";
import { cpuSeconds, freePort, repoRoot } from "./procs.js";

/** A store started by {@link startStore}. */
export interface StartedStore {
  /** The Marketplace, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The launcher's pid (it started every service and PostgreSQL). */
  readonly pid: number;
  /** From spawning the launcher until the shop served its first pages, ms. */
  readonly startMs: number;
  /** CPU seconds used so far by the launcher and everything under it (services, PostgreSQL). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** `root` and every process under it, from /proc (Linux; just `root` elsewhere). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [root];
  }
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const tree: number[] = [];
  for (const queue = [root]; queue.length > 0; ) {
    const pid = queue.pop() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * Answers when the shop serves what a shopper first asks for: the homepage with its featured
 * books (the Catalog has seeded), one of their pages and a search for a word of its title, all
 * 200 (right after the first start the services are still consuming the seed's events, and a
 * page can miss its deadline).
 */
async function shopReady(url: string): Promise<boolean> {
  const get = async (path: string): Promise<string | undefined> => {
    const response = await fetch(new URL(path, url), { signal: AbortSignal.timeout(3000) });
    const body = await response.text();
    return response.status === 200 ? body : undefined;
  };
  const home = await get("/");
  const book = /<a href="(\/books\/[^"]+)">([A-Za-z]+)/.exec(home ?? "");
  if (book?.[1] === undefined || book[2] === undefined) return false;
  return (await get(book[1])) !== undefined && (await get(`/search?q=${encodeURIComponent(book[2])}`)) !== undefined;
}

/**
 * Starts scripts/start.mjs with `env` added (e.g. `RATE_LIMIT_MAX`) and waits, up to
 * `timeoutMs`, until the shop serves its first pages (see {@link shopReady}).
 */
export async function startStore(env: Readonly<Record<string, string>>, timeoutMs = 180_000): Promise<StartedStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "obfy-shoppers-"));
  // When run as root, PostgreSQL runs as the OS user postgres, which must be able to enter it.
  chmodSync(dataDir, 0o755);
  const ports: Record<string, string> = {};
  for (const service of SERVICES) ports[`${variablePrefix(service.name)}_PORT`] = String(await freePort());
  const url = `http://127.0.0.1:${ports.MARKETPLACE_PORT}`;
  const began = performance.now();
  const launcher = spawn(process.execPath, [join(repoRoot, "scripts", "start.mjs")], {
    cwd: repoRoot,
    env: {
      ...process.env,
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
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The last lines of each service (the launcher prefixes them with `[name]`) and of the
  // launcher itself, to say why the store did not start.
  const lastLines = new Map<string, string[]>();
  let partial = "";
  const keep = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const source = /^\[([\w-]+)\]/.exec(line)?.[1] ?? "launcher";
      const kept = lastLines.get(source) ?? [];
      kept.push(line.slice(0, 600));
      lastLines.set(source, kept.slice(-6));
    }
  };
  const tail = (): string => [...lastLines.values()].flat().join("\n");
  launcher.stdout.on("data", keep);
  launcher.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => launcher.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (launcher.exitCode === null && launcher.signalCode === null) {
      launcher.kill("SIGINT");
      const timer = setTimeout(() => launcher.kill("SIGKILL"), 60_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (launcher.exitCode !== null) {
        throw new Error(`the store exited (${launcher.exitCode}); the last lines of each process:\n${tail()}`);
      }
      if (await shopReady(url).catch(() => false)) break;
      if (performance.now() > deadline) throw new Error(`the store did not serve its homepage within ${timeoutMs} ms`);
      await delay(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = launcher.pid ?? -1;
  return {
    url,
    pid,
    startMs: performance.now() - began,
    cpuSeconds: () => processTree(pid).reduce((sum, each) => sum + cpuSeconds(each), 0),
    stop,
  };
}
