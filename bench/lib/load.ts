/**
 * The load generators, each run as its own process on the load core: h2load for gRPC throughput,
 * autocannon for HTTP throughput, and bench/fixtures/open-loop.ts for gRPC latency at a fixed
 * rate. Every run is bounded in time.
 */
import { join } from "node:path";
import type { OpenLoopConfig, OpenLoopResult } from "../fixtures/open-loop.js";
import { repoRoot, run } from "./procs.js";

/** The node arguments that run `bench/fixtures/<name>.ts`: compiled by scripts/bench.mjs, else through tsx. */
export function fixtureArgv(name: string): string[] {
  const dir = process.env.BENCH_FIXTURES_DIR;
  return dir
    ? [process.execPath, join(dir, `${name}.mjs`)]
    : [process.execPath, "--conditions=source", "--import", "tsx", join(repoRoot, "bench", "fixtures", `${name}.ts`)];
}

/** What a closed-loop throughput run measured. */
export interface Throughput {
  readonly requestsPerSec: number;
  readonly ok: number;
  readonly failed: number;
}

/**
 * h2load replaying one pre-encoded gRPC request (`bodyFile`) over 4 connections × 100 streams,
 * closed loop. It does no per-call JavaScript, so the server's core is the limit. It cannot read
 * gRPC trailers: the suite checks the same bytes get grpc-status 0 before it runs.
 */
export async function h2load(options: {
  port: number;
  path: string;
  bodyFile: string;
  warmupSeconds: number;
  seconds: number;
  prefix: readonly string[];
}): Promise<Throughput> {
  const out = await run(
    [
      "h2load",
      ...["-c", "4", "-m", "100", "-t", "1", "-D", String(options.seconds)],
      `--warm-up-time=${options.warmupSeconds}`,
      ...["-d", options.bodyFile, "-H", "content-type: application/grpc", "-H", "te: trailers"],
      `http://127.0.0.1:${options.port}${options.path}`,
    ],
    { prefix: options.prefix, timeoutMs: (options.warmupSeconds + options.seconds) * 2000 + 10_000 },
  );
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!rps || !counts) throw new Error(`cannot read h2load output:\n${out.slice(-1500)}`);
  return {
    requestsPerSec: Number(rps[1]),
    ok: Number(counts[1]),
    failed: Number(counts[2]) + Number(counts[3]),
  };
}

/** What autocannon measured, plus its latency percentiles (closed loop: they include queueing). */
export interface HttpThroughput extends Throughput {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** autocannon, closed loop: `connections` keep-alive connections each sending its next request on every answer. */
export async function autocannon(options: {
  url: string;
  connections: number;
  seconds: number;
  headers: Readonly<Record<string, string>>;
  prefix: readonly string[];
}): Promise<HttpThroughput> {
  const headerArgs = Object.entries(options.headers).flatMap(([name, value]) => ["-H", `${name}=${value}`]);
  const out = await run(
    [
      process.execPath,
      join(repoRoot, "node_modules", "autocannon", "autocannon.js"),
      ...["-c", String(options.connections), "-d", String(options.seconds), "--json", ...headerArgs, options.url],
    ],
    { prefix: options.prefix, timeoutMs: options.seconds * 2000 + 10_000 },
  );
  const json = out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1);
  const result = JSON.parse(json) as {
    requests: { total: number };
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    latency: { p50: number; p99: number };
  };
  const ok = result.requests.total - result.non2xx;
  return {
    requestsPerSec: ok / result.duration,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/** Runs bench/fixtures/open-loop.ts once with `config`. */
export async function openLoop(config: OpenLoopConfig, prefix: readonly string[]): Promise<OpenLoopResult> {
  const out = await run([...fixtureArgv("open-loop"), JSON.stringify(config)], {
    prefix,
    timeoutMs: config.warmupMs + config.durationMs + 30_000,
  });
  const line = out.split("\n").find((l) => l.startsWith('{"event":"result"'));
  if (line === undefined) throw new Error(`open-loop printed no result:\n${out.slice(-1500)}`);
  return (JSON.parse(line) as { result: OpenLoopResult }).result;
}
