/**
 * The processes of a benchmark run: spawned pinned to a core (`taskset`), their CPU time and
 * resident memory read from /proc, readiness polled, and every one stopped by pid.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readFileSync } from "node:fs";
import { connect } from "node:http2";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Command prefixes that pin servers to core 0 and load to core 1, or none when that is impossible. */
export function detectPinning(cores: number): { server: string[]; load: string[]; note: string } {
  const probe = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
  if (probe.status !== 0 || cores < 2) {
    return {
      server: [],
      load: [],
      note: "NOT pinned (needs `taskset` and 2 cores): servers and load share the cores, so figures are noisier.",
    };
  }
  return {
    server: ["taskset", "-c", "0"],
    load: ["taskset", "-c", "1"],
    note: "Every server on core 0 (`taskset -c 0`), every load generator on core 1.",
  };
}

/** A process the suite started. */
export interface Proc {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed on stdout (when not discarded) and the last 4 KB of stderr. */
  output(): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
/** SIGKILLs whatever the suite started and is still running (on exit, Ctrl-C). */
export function killAll(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** Starts `argv` (after `prefix`) with `env` added; stdout goes to /dev/null unless `keepStdout`. */
export function start(
  argv: readonly string[],
  options: { prefix?: readonly string[]; env?: Record<string, string>; cwd?: string; keepStdout?: boolean } = {},
): Proc {
  const [command, ...args] = [...(options.prefix ?? []), ...argv] as [string, ...string[]];
  const devNull = options.keepStdout ? "pipe" : openSync("/dev/null", "w");
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", devNull, "pipe"],
  });
  if (typeof devNull === "number") closeSync(devNull);
  running.add(child);
  child.once("exit", () => running.delete(child));
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  return {
    pid: child.pid ?? -1,
    child,
    output: () => stdout + stderr,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs `argv` to completion (bounded by `timeoutMs`) and returns its stdout; throws on failure. */
export async function run(
  argv: readonly string[],
  options: { prefix?: readonly string[]; timeoutMs: number; cwd?: string },
): Promise<string> {
  const proc = start(argv, { prefix: options.prefix, cwd: options.cwd, keepStdout: true });
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), options.timeoutMs);
  const [code] = (await once(proc.child, "exit")) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${proc.output().slice(-1500)}`);
  return proc.output();
}

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** User + system CPU seconds `pid` has used (all its threads; 0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * Resident memory of `pid`, MB: all of it, and the anonymous part (heaps, stacks; the rest is
 * mostly the executable's and libraries' file pages, which processes of one binary share).
 */
export function residentMb(pid: number): { rss: number; anonymous: number } {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return { rss: kb("Rss") / 1024, anonymous: kb("Anonymous") / 1024 };
  } catch {
    return { rss: 0, anonymous: 0 };
  }
}

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `probe` every 5 ms until it returns true; rejects after `timeoutMs` or when `proc` exits. */
export async function waitUntil(probe: () => Promise<boolean>, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`exited (${proc.child.exitCode}): ${proc.output().slice(-1500)}`);
    if (await probe().catch(() => false)) return;
    await delay(5);
  }
  throw new Error(`not ready after ${timeoutMs} ms: ${proc.output().slice(-1500)}`);
}

/** One unary gRPC call of the pre-encoded `frame` to `path`; resolves with its grpc-status. */
export async function grpcStatusOf(port: number, path: string, frame: Buffer): Promise<string | undefined> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  try {
    return await new Promise<string | undefined>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let status: string | undefined;
      const read = (headers: Record<string, unknown>): void => {
        if (typeof headers["grpc-status"] === "string") status = headers["grpc-status"];
      };
      stream.on("response", read).on("trailers", read).on("error", reject);
      stream.on("close", () => resolve(status));
      stream.setTimeout(2000, () => stream.close());
      stream.resume();
      stream.end(frame);
    });
  } finally {
    session.destroy();
  }
}

/** A gRPC length-prefixed message: flag 0, 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.byteLength);
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}
