/**
 * Child processes for the benchmark suite: spawning (optionally pinned to a core with
 * `taskset`), reading their JSON lines, CPU time and resident memory from /proc, free ports,
 * readiness probes, and stopping them. Every process started here is stopped by pid.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { healthV1 } from "@obfy/protos";
import { serviceNodeFlags } from "../../scripts/service-node-flags.mjs";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Node flags that run TypeScript sources directly (what `npm test` uses). */
export const TS_NODE_ARGS = ["--conditions=source", "--import", "tsx"] as const;

/** How the suite places processes on cores. */
export interface Pinning {
  /** Command prefix for the system under test, e.g. `["taskset", "-c", "0"]`, or `[]`. */
  readonly server: readonly string[];
  /** Command prefix for load generators. */
  readonly load: readonly string[];
  /** One sentence for the report. */
  readonly note: string;
  readonly pinned: boolean;
}

/** Pins servers to core 0 and load generators to core 1 when `taskset` exists and there are two or more cores. */
export function detectPinning(cores: number): Pinning {
  const probe = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
  if (probe.error !== undefined || probe.status !== 0) {
    return {
      server: [],
      load: [],
      pinned: false,
      note: "NOT pinned: `taskset` is missing (install util-linux); servers and load generators share all cores, so numbers are noisier.",
    };
  }
  if (cores < 2) {
    return {
      server: [],
      load: [],
      pinned: false,
      note: "NOT pinned: only one core is available, so servers and load generators share it.",
    };
  }
  return {
    server: ["taskset", "-c", "0"],
    load: ["taskset", "-c", "1"],
    pinned: true,
    note: "Servers pinned to core 0 (`taskset -c 0`), load generators to core 1 (`taskset -c 1`).",
  };
}

/** A child process the suite started. */
export interface Managed {
  readonly child: ChildProcess;
  readonly pid: number;
  /** JSON lines with an `event` key printed on stdout (and IPC messages) so far; other output is ignored. */
  readonly lines: Record<string, unknown>[];
  /** Last 8 KB of stderr, for error messages. */
  stderr(): string;
  /** Resolves with the first line (past or future) matching `predicate`; rejects on timeout or exit. */
  waitFor(predicate: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Managed>();

/** Kills every process this module started that is still running (by pid). Safe to call on exit. */
export function killAll(): void {
  for (const m of running) {
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
  }
}

/** Options for {@link start}. */
export interface StartOptions {
  /** Command prefix, e.g. a {@link Pinning} entry. */
  readonly prefix?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** `json`: read stdout as JSON lines (default); `null`: send stdout to /dev/null (e.g. a service's logs). */
  readonly stdout?: "json" | "null";
  /** Open an IPC channel; messages that are objects are added to `lines` like stdout JSON lines. */
  readonly ipc?: boolean;
}

/** Starts `command args` (after the optional prefix) with the suite's bookkeeping. */
export function start(command: string, args: readonly string[], options: StartOptions = {}): Managed {
  const prefix = options.prefix ?? [];
  const argv = [...prefix, command, ...args];
  const devNull = options.stdout === "null" ? openSync("/dev/null", "w") : undefined;
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ["ignore", devNull ?? "pipe", "pipe", "ipc"] : ["ignore", devNull ?? "pipe", "pipe"],
  });
  if (devNull !== undefined) closeSync(devNull);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192);
  });
  if (child.stdout) {
    createInterface({ input: child.stdout }).on("line", (text) => {
      if (!text.startsWith("{")) return;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      // Keep only the suite's own protocol lines, not a service's per-call logs.
      if (!("event" in line)) return;
      lines.push(line);
      for (const wake of waiters) wake();
    });
  }
  child.on("message", (message: unknown) => {
    if (typeof message !== "object" || message === null) return;
    lines.push(message as Record<string, unknown>);
    for (const wake of waiters) wake();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(null));
  });
  const managed: Managed = {
    child,
    pid: child.pid ?? -1,
    lines,
    stderr: () => stderr,
    exited,
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const found = lines.find(predicate);
        if (found) {
          resolve(found);
          return;
        }
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
          child.off("exit", onExit);
        };
        const wake = (): void => {
          const match = lines.find(predicate);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const onExit = (code: number | null): void => {
          cleanup();
          reject(new Error(`${argv.join(" ")} exited (${code}) early: ${stderr.slice(-2000)}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${argv.join(" ")}: no expected output within ${timeoutMs} ms: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(wake);
        child.once("exit", onExit);
      });
    },
    async stop(graceMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(managed);
    },
  };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

/** Starts a TypeScript file with tsx (source export conditions). */
export function startTs(file: string, args: readonly string[], options: StartOptions = {}): Managed {
  return start(process.execPath, [...TS_NODE_ARGS, file, ...args], options);
}

/**
 * How bench fixtures run: `dist` = the JavaScript `scripts/bench.mjs` compiled them to
 * (`BENCH_FIXTURES_DIR`), importing the workspaces' built dist/ like a deployed service;
 * `source` = through tsx (when a benchmark file is run by hand without the script).
 */
export const fixtureRuntime: "dist" | "source" = process.env.BENCH_FIXTURES_DIR ? "dist" : "source";

/** The node arguments that run `bench/fixtures/<name>.ts` (compiled when available). */
export function fixtureArgs(name: string): string[] {
  const dir = process.env.BENCH_FIXTURES_DIR;
  return dir ? [join(dir, `${name}.mjs`)] : [...TS_NODE_ARGS, join(repoRoot, "bench", "fixtures", `${name}.ts`)];
}

/** Starts the bench fixture `name` (e.g. `grpc-load`), compiled to JavaScript when available. */
export function startFixture(name: string, args: readonly string[], options: StartOptions = {}): Managed {
  return start(process.execPath, [...fixtureArgs(name), ...args], options);
}

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** User + system CPU seconds used so far by `pid` (0 if it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Resident set size of `pid` in bytes (0 if it is gone). */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `pid` and all its descendants (a taskset/cluster tree), from /proc. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parentOf.set(Number(name), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** The node processes in `pid`'s tree (the taskset wrapper execs, so usually just `pid`, or a cluster). */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
}

/** Samples the summed RSS of `pid`'s tree every `everyMs` until stopped; returns the maximum seen. */
export function sampleRss(pid: number, everyMs = 100): { stop: () => number } {
  let max = 0;
  const sample = (): void => {
    max = Math.max(
      max,
      processTree(pid).reduce((sum, p) => sum + rssBytes(p), 0),
    );
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for processes that need a fixed PORT). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls until 127.0.0.1:`port` accepts a TCP connection; bounded by `timeoutMs`. */
export async function waitForTcp(port: number, timeoutMs: number, exited?: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => {
    gone = true;
  });
  while (Date.now() < deadline && !gone) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.connect(port, "127.0.0.1");
    });
    if (ok) return;
    await delay(5);
  }
  throw new Error(
    gone
      ? `process exited before 127.0.0.1:${port} accepted connections`
      : `127.0.0.1:${port} not accepting after ${timeoutMs} ms`,
  );
}

/** Polls grpc.health.v1 Check (whole server) until SERVING; bounded by `timeoutMs`. */
export async function waitForServing(port: number, timeoutMs: number): Promise<void> {
  const client = new healthV1.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    // A refused connection must not push the next attempt a second away (grpc-js's default backoff).
    "grpc.initial_reconnect_backoff_ms": 5,
    "grpc.max_reconnect_backoff_ms": 20,
    "grpc.use_local_subchannel_pool": 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const serving = await new Promise<boolean>((resolve) => {
        client.check({ service: "" }, new Metadata(), { deadline: Date.now() + 250 }, (error, response) =>
          resolve(!error && response.status === healthV1.HealthCheckResponse_ServingStatus.SERVING),
        );
      });
      if (serving) return;
      await delay(5);
    }
    throw new Error(`127.0.0.1:${port} not SERVING after ${timeoutMs} ms`);
  } finally {
    client.close();
  }
}

/** Polls `url` until it answers 200; bounded by `timeoutMs`. */
export async function waitForHttp200(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(500) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status === 200;
      },
      () => false,
    );
    if (ok) return;
    await delay(5);
  }
  throw new Error(`${url} not 200 after ${timeoutMs} ms`);
}

/** The newest modification time (ms) of any `.ts` file under `dirs`, tests excluded. */
function newestSource(dirs: readonly string[]): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name === "dist") continue;
      const full = join(dir, name);
      const info = statSync(full);
      if (info.isDirectory()) walk(full);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) newest = Math.max(newest, info.mtimeMs);
    }
  };
  for (const dir of dirs) if (existsSync(dir)) walk(dir);
  return newest;
}

/** How to run a service's entry point. */
export interface ServiceCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** `dist` (compiled, as in production) or `source` (tsx). */
  readonly runtime: "dist" | "source";
}

/**
 * The command that runs `services/<name>`'s main as production runs it: the compiled and bundled
 * `dist/main.bundle.js` (scripts/bundle.mjs), with the node flags of the images' CMD (scripts/service-node-flags.mjs). Throws when dist/ is missing or older than the sources it is built from (run
 * `npm run build`, which `npm run bench` does first). `BENCH_RUNTIME=source` runs `src/main.ts`
 * through tsx instead (development only: tsx costs start-up time and memory).
 */
export function serviceCommand(name: "recommendations" | "marketplace"): ServiceCommand {
  const dist = join(repoRoot, "services", name, "dist", "main.bundle.js");
  const src = join(repoRoot, "services", name, "src", "main.ts");
  const forced = process.env.BENCH_RUNTIME;
  const distFresh =
    existsSync(dist) &&
    ["kit", "protos"].every((p) => existsSync(join(repoRoot, "packages", p, "dist", "index.js"))) &&
    statSync(dist).mtimeMs >=
      newestSource([join(repoRoot, "services", name, "src"), join(repoRoot, "packages", "kit", "src")]);
  if (forced === "source") return { command: process.execPath, args: [...TS_NODE_ARGS, src], runtime: "source" };
  if (!distFresh && forced !== "dist") {
    throw new Error(
      `services/${name}/dist is missing or older than its sources: run \`npm run build\` first (npm run bench does), or set BENCH_RUNTIME=source to measure the sources through tsx`,
    );
  }
  return { command: process.execPath, args: [...serviceNodeFlags(name), dist], runtime: "dist" };
}
