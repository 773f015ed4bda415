/**
 * The benchmark suite behind `npm run bench`. Starts real processes on loopback, pins the
 * systems under test to core 0 and load generators to core 1, and writes
 * bench/results/results.{md,json} plus SVG charts. Every load run is bounded in time and count.
 *
 * BENCH_QUICK=1 runs a ~1 minute smoke version (short windows, one round).
 * Services run from their compiled dist/ (`npm run bench` builds first; a stale dist/ is refused);
 * BENCH_RUNTIME=source runs them through tsx instead (development only).
 *
 * Sections: codec, Recommend throughput (h2load: server-bound, with server CPU per call) and
 * latency at fixed rates (open-loop grpc-js client) on the v1 and legacy APIs for the full
 * service vs the kit stack vs a bare grpc-js server,
 * the Marketplace homepage, memory, start-up, and multi-process scaling. A section that fails is
 * recorded as failed and the suite carries on.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { UNAVAILABLE_NOTICE } from "@obfy/marketplace";
import { legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { COMMON_NODE_FLAGS, serviceNodeFlags } from "../scripts/service-node-flags.mjs";
import { type CodecResult, codecMarkdown } from "./codec.js";
import type { LoadConfig, LoadResult } from "./fixtures/grpc-load.js";
import type { GeneratorGc, H2OpenLoadConfig } from "./fixtures/h2-open-load.js";
import type { HttpLoadConfig, HttpLoadResult } from "./fixtures/http-load.js";
import { type AllocationSummary, summariseAllocations } from "./lib/alloc-profile.js";
import { groupedBars, horizontalBars, latencyLines, writeChart } from "./lib/charts.js";
import { grpcFrame, grpcStatusOf, h2loadAvailable, runH2load, writeFrameFile } from "./lib/h2load.js";
import { median } from "./lib/micro.js";
import {
  detectPinning,
  fixtureArgs,
  fixtureRuntime,
  freePort,
  killAll,
  type Managed,
  repoRoot,
  rssBytes,
  sampleRss,
  serviceCommand,
  start,
  startFixture,
  startTs,
  treeCpuSeconds,
  waitForHttp200,
  waitForServing,
  waitForTcp,
} from "./lib/procs.js";
import { serviceEnv } from "./lib/service-env.js";

const quick = process.env.BENCH_QUICK === "1";
const P = quick
  ? {
      codec: { rounds: 3, roundMs: 100, warmupMs: 100 },
      startups: 1,
      throughputRounds: 1,
      warmupMs: 500,
      openMs: 2000,
      rates: [0.25, 0.5, 0.75],
      halfRateRounds: 1,
      httpWarmupMs: 1000,
      httpOpenMs: 2000,
      h2loadSeconds: 2,
      httpSeconds: 3,
      scalingSeconds: 3,
      alloc: { rate: 2000, ms: 1000 },
    }
  : {
      codec: { rounds: 5, roundMs: 200, warmupMs: 200 },
      startups: 3,
      throughputRounds: 3,
      warmupMs: 1000,
      openMs: 4000,
      rates: [0.25, 0.5, 0.75],
      halfRateRounds: 3,
      // The homepage right after the saturating maximum run takes seconds to settle (JIT, heap
      // growth): its p99 is measured after a warm-up at the target rate, over a longer window.
      httpWarmupMs: 5000,
      httpOpenMs: 8000,
      h2loadSeconds: 5,
      httpSeconds: 5,
      scalingSeconds: 5,
      alloc: { rate: 2000, ms: 3000 },
    };
/** Hard cap on calls per load run: far above what one core can do in the window, so time is the usual bound. */
const MAX_REQUESTS = 2_000_000;
const CONNECTIONS = 4;
const OPEN_OUTSTANDING_CAP = 5000;
const V1_PATH = "/bookstore.recommendations.v1.RecommendationsService/Recommend";
const LEGACY_PATH = "/Recommendations/Recommend";
/** h2load: streams in flight per connection (4 × 100 = 400 calls outstanding saturate any server here). */
const H2_STREAMS = 100;
const resultsDir = join(repoRoot, "bench", "results");

/** One pre-encoded v1 RecommendRequest as a gRPC frame, for h2load (written once, removed on exit). */
const frameDir = mkdtempSync(join(tmpdir(), "obfy-bench-"));
const v1Frame = grpcFrame(
  recommendationsV1.RecommendRequest.encode({
    userId: 1,
    category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
    maxResults: 3,
  }).finish(),
);
const v1BodyFile = writeFrameFile(frameDir, "recommend-request.grpc", v1Frame);
const legacyFrame = grpcFrame(
  legacyRecommendations.RecommendationRequest.encode({
    userId: 1,
    category: legacyRecommendations.BookCategory.SCIENCE_FICTION,
    maxResults: 3,
  }).finish(),
);
const legacyBodyFile = writeFrameFile(frameDir, "legacy-recommend-request.grpc", legacyFrame);
const API = {
  v1: { path: V1_PATH, frame: v1Frame, bodyFile: v1BodyFile },
  legacy: { path: LEGACY_PATH, frame: legacyFrame, bodyFile: legacyBodyFile },
} as const;
process.on("exit", () => rmSync(frameDir, { recursive: true, force: true }));

const cores = availableParallelism();
const pinning = detectPinning(cores);
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

// ---------------------------------------------------------------------------------------------
// Result shapes

/**
 * The three Recommendations servers compared: `bare` grpc-js with the service's logic and
 * nothing else; `kit`, the kit's full production stack (JSON log line per call, metrics,
 * tracing without exporter) around the same logic; `service`, the real service's main as
 * deployed today.
 */
type ServerKind = "bare" | "kit" | "service";
const SERVER_LABEL: Record<ServerKind, string> = {
  bare: "bare grpc-js",
  kit: "kit full stack",
  service: "Recommendations service",
};

interface ThroughputRow {
  readonly api: "v1" | "legacy";
  readonly server: ServerKind;
  /** Median OK calls per second over the rounds (h2load, server-bound). */
  readonly throughput: number;
  /** Median server CPU (cores) while loaded; ≈ 1.00 means its core was the limit. */
  readonly serverCpu: number;
  /** Median server CPU µs per OK call: the figure that survives a noisy machine. */
  readonly usPerCall: number;
  readonly errors: number;
  readonly rounds: readonly number[];
  /** What limited the row: its server's core, or (server CPU well below 1) the machine. */
  readonly limitedBy: string;
}

interface LatencyRow {
  readonly series: string;
  /** The load generator: raw HTTP/2 replaying the pre-encoded frame, or our grpc-js client. */
  readonly generator: "raw HTTP/2" | "grpc-js client";
  readonly api: "v1" | "legacy";
  readonly server: ServerKind;
  readonly fraction: number;
  readonly rate: number;
  readonly achieved: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly dropped: number;
  readonly sendLagP99Ms: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
  readonly limitedBy: string;
  /** Raw HTTP/2 generator: its own GC pauses in the measured window. */
  readonly generatorGc?: GeneratorGc;
  /** When the rate was run more than once: every round's p99 (the row is the median round). */
  readonly p99Rounds?: readonly number[];
}

interface Target {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean | undefined;
}

interface Results {
  meta: Record<string, unknown>;
  sections: Record<string, { ok: boolean; error?: string; seconds: number }>;
  codec?: CodecResult;
  startup: { recommendationsMs?: number[]; marketplaceMs?: number[]; recommendationsTcpMs?: number[] };
  memory: Record<string, { idleMb?: number; loadedMb?: number }>;
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  marketplace?: {
    max: HttpResult;
    halfRate: HttpLoadResult & { rate: number; serverCpu: number; recommendationsCpu: number };
    /** The control: bare fastify hello world (bench/fixtures/http-hello-server.ts) loaded the same way at the same rate. */
    control?: HttpLoadResult & { serverCpu: number };
    /** Server CPU µs per homepage request at the maximum: Marketplace, and Recommendations behind it. */
    usPerRequest: { marketplace: number; recommendations: number };
  };
  scaling: { workers: number; requestsPerSec: number; serverCpu: number; tool: string }[];
  /** The grpc-js load client's own ceiling (closed loop, 100 in flight, against the bare server). */
  grpcClientMax?: { requestsPerSec: number; clientCpu: number; serverCpu: number };
  /** Bytes allocated per call, and bytes that survived a young collection, under the same open-loop load. */
  allocation: { server: ServerKind; rate: number; allocated: AllocationSummary; survived: AllocationSummary }[];
  /** Server CPU µs per OK call with the per-call info line and without it (LOG_LEVEL=warn). */
  logging?: { infoUsPerCall: number; warnUsPerCall: number; shareOfCall: number };
  targets: Target[];
}

interface HttpResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly total: number;
  readonly serverCpu: number;
  readonly recommendationsCpu: number;
}

const results: Results = {
  meta: {},
  sections: {},
  startup: {},
  memory: {},
  throughput: [],
  latency: [],
  allocation: [],
  scaling: [],
  targets: [],
};

async function section(name: string, body: () => Promise<void>): Promise<void> {
  const began = performance.now();
  log(`${name}…`);
  try {
    await body();
    results.sections[name] = { ok: true, seconds: (performance.now() - began) / 1000 };
  } catch (error) {
    // One line: it goes into a Markdown table.
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim().slice(0, 400);
    log(`${name} FAILED: ${message}`);
    results.sections[name] = { ok: false, error: message, seconds: (performance.now() - began) / 1000 };
  }
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const ms = (us: number): number => Math.round(us) / 1000;

// ---------------------------------------------------------------------------------------------
// Process helpers

interface RunningService {
  readonly process: Managed;
  readonly port: number;
}

/** Starts the real Recommendations main (production settings) on core 0 and times spawn → SERVING. */
async function startRecommendations(
  extraEnv: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
): Promise<RunningService & { servingMs: number; tcpMs: number }> {
  const port = await freePort();
  const cmd = serviceCommand("recommendations");
  const began = performance.now();
  const proc = start(cmd.command, [...nodeArgs, ...cmd.args], {
    prefix: pinning.server,
    stdout: "null",
    env: serviceEnv(port, { LOG_LEVEL: "info", ...extraEnv }),
  });
  try {
    await waitForTcp(port, 20_000, proc.exited);
    const tcpMs = performance.now() - began;
    await waitForServing(port, 20_000);
    return { process: proc, port, servingMs: performance.now() - began, tcpMs };
  } catch (error) {
    await proc.stop();
    // Its logs went to /dev/null; stderr may still say why.
    throw new Error(
      `Recommendations (${cmd.runtime}) did not start: ${(error as Error).message} ${proc.stderr().slice(-500)}`,
    );
  }
}

/**
 * Starts the kit full-stack fixture on core 0 (logs to /dev/null, readiness over IPC), with the
 * node flags the services ship with (scripts/service-node-flags.mjs): the kit as deployed. The
 * bare grpc-js baseline runs with Node's defaults.
 */
async function startKit(nodeArgs: readonly string[] = [], env: Record<string, string> = {}): Promise<RunningService> {
  const proc = start(process.execPath, [...COMMON_NODE_FLAGS, ...nodeArgs, ...fixtureArgs("kit-stack-server")], {
    prefix: pinning.server,
    stdout: "null",
    ipc: true,
    env: { LOG_FORMAT: "json", LOG_LEVEL: "info", ...env },
  });
  const ready = await proc.waitFor((line) => line.event === "ready", 30_000);
  return { process: proc, port: Number(ready.port) };
}

async function startBare(nodeArgs: readonly string[] = [], env: Record<string, string> = {}): Promise<RunningService> {
  const proc = start(process.execPath, [...nodeArgs, ...fixtureArgs("bare-server")], { prefix: pinning.server, env });
  const ready = await proc.waitFor((line) => line.event === "ready", 30_000);
  return { process: proc, port: Number(ready.port) };
}

/** Resolves once `file` exists (the sampler renames it into place when its session stops). */
async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!existsSync(file)) {
    if (performance.now() > until) throw new Error(`${file} was not written within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Server CPU (cores) over a window: call `read()` at its end. Sums the process tree (taskset, cluster). */
function cpuWindow(pid: number): { read: () => number } {
  const cpu0 = treeCpuSeconds(pid);
  const t0 = performance.now();
  return { read: () => (treeCpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000) };
}

/** One h2load run (core 1) against `server`, with the server's CPU over the same window. */
async function h2loadRun(
  server: RunningService,
  api: "v1" | "legacy",
  seconds: number,
): Promise<{ requestsPerSec: number; errors: number; serverCpu: number }> {
  const cpu = cpuWindow(server.process.pid);
  const r = await runH2load({
    port: server.port,
    path: API[api].path,
    bodyFile: API[api].bodyFile,
    clients: CONNECTIONS,
    streams: H2_STREAMS,
    warmupSeconds: P.warmupMs / 1000,
    durationSeconds: seconds,
    prefix: pinning.load,
  });
  // The window includes h2load's warm-up second, when the server is as loaded as after it.
  return { requestsPerSec: r.requestsPerSec, errors: r.failed + r.errored, serverCpu: cpu.read() };
}

/** "server core" when the server's core was saturated, else a note that something else limited it. */
function limitOf(serverCpu: number, clientCpu?: number): string {
  if (serverCpu >= 0.9) return "server core";
  if (clientCpu !== undefined && clientCpu >= 0.9) return "load generator";
  return `neither saturated (server CPU ${serverCpu.toFixed(2)}): machine contention`;
}

/** Runs the gRPC load generator on core 1 and measures the server's CPU over the same window. */
async function grpcLoad(config: LoadConfig, server: Managed): Promise<LoadResult & { serverCpu: number }> {
  const loader = startFixture("grpc-load", [JSON.stringify(config)], {
    prefix: pinning.load,
  });
  const limit = config.warmupMs + config.durationMs + 30_000;
  try {
    await loader.waitFor((line) => line.event === "measuring", limit);
    const cpu0 = treeCpuSeconds(server.pid);
    const t0 = performance.now();
    const line = await loader.waitFor((l) => l.event === "result", limit);
    const serverCpu = (treeCpuSeconds(server.pid) - cpu0) / ((performance.now() - t0) / 1000);
    return { ...(line.result as LoadResult), serverCpu };
  } finally {
    await loader.stop();
  }
}

/** The raw HTTP/2 open-loop generator (bench/fixtures/h2-open-load.ts) on core 1, with the server's CPU. */
async function h2OpenLoad(
  config: H2OpenLoadConfig,
  server: Managed,
  hooks: { onMeasuring?: () => void; onResult?: () => void } = {},
): Promise<LoadResult & { serverCpu: number; generatorGc: GeneratorGc }> {
  const loader = startFixture("h2-open-load", [JSON.stringify(config)], { prefix: pinning.load });
  const limit = config.warmupMs + config.durationMs + 30_000;
  try {
    await loader.waitFor((line) => line.event === "measuring", limit);
    hooks.onMeasuring?.();
    const cpu = cpuWindow(server.pid);
    const line = await loader.waitFor((l) => l.event === "result", limit);
    hooks.onResult?.();
    return { ...(line.result as LoadResult & { generatorGc: GeneratorGc }), serverCpu: cpu.read() };
  } finally {
    await loader.stop();
  }
}

/** Raw HTTP/2 open loop at `rate` calls per second, replaying the API's pre-encoded request. */
function h2OpenConfig(port: number, api: "v1" | "legacy", rate: number): H2OpenLoadConfig {
  return {
    origin: `http://127.0.0.1:${port}`,
    path: API[api].path,
    frameBase64: API[api].frame.toString("base64"),
    rate,
    connections: CONNECTIONS,
    maxOutstanding: OPEN_OUTSTANDING_CAP,
    warmupMs: P.warmupMs,
    durationMs: P.openMs,
    maxRequests: MAX_REQUESTS,
  };
}

/**
 * One latency table row. At a fixed rate nothing should be saturated: a server core at ≥ 90 %
 * shaped the tail itself; a generator that fell behind its schedule by more than a millisecond
 * at p99 (or, for the grpc-js client, used its whole core) shaped it instead. The raw HTTP/2
 * generator yields with setImmediate between sends closer than a timer tick, so its CPU reads
 * near 1 at high rates without it being behind: for it, only the send lag counts.
 */
function latencyRow(
  series: string,
  generator: LatencyRow["generator"],
  s: { readonly api: "v1" | "legacy"; readonly server: ServerKind },
  fraction: number,
  rate: number,
  r: LoadResult & { serverCpu: number; generatorGc?: GeneratorGc },
): LatencyRow {
  const lagUs = r.sendLagUs?.p99 ?? 0;
  return {
    ...(r.generatorGc ? { generatorGc: r.generatorGc } : {}),
    series,
    generator,
    api: s.api,
    server: s.server,
    fraction,
    rate,
    achieved: r.throughput,
    p50Ms: ms(r.latencyUs.p50),
    p90Ms: ms(r.latencyUs.p90),
    p99Ms: ms(r.latencyUs.p99),
    maxMs: ms(r.latencyUs.max),
    errors: r.errors,
    dropped: r.dropped,
    sendLagP99Ms: ms(lagUs),
    serverCpu: r.serverCpu,
    clientCpu: r.cpu,
    limitedBy:
      r.serverCpu >= 0.9
        ? "server core"
        : lagUs > 1000 || (generator === "grpc-js client" && r.cpu >= 0.9)
          ? `load generator (send lag p99 ${(lagUs / 1000).toFixed(1)} ms)`
          : "offered rate",
  };
}

/** An open-loop grpc-js load at `rate` calls per second (the client is for latency only). */
function loadConfig(port: number, api: "v1" | "legacy", rate: number): LoadConfig {
  return {
    target: `127.0.0.1:${port}`,
    api,
    mode: "open",
    connections: CONNECTIONS,
    concurrency: OPEN_OUTSTANDING_CAP,
    rate,
    warmupMs: P.warmupMs,
    durationMs: P.openMs,
    maxRequests: MAX_REQUESTS,
  };
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * The homepage's maximum rate: autocannon (its CLI, on core 1, closed loop, 32 connections)
 * against `url`, with the server's and Recommendations' CPU over the run. Only for the maximum:
 * its `-R` rate limit sends each second's budget in a burst, so latency "at a rate" comes from
 * {@link httpLoad} instead.
 */
async function autocannon(
  url: string,
  seconds: number,
  server: Managed,
  recommendations: Managed,
  headers: Record<string, string>,
): Promise<HttpResult> {
  const args = [
    join(repoRoot, "node_modules", "autocannon", "autocannon.js"),
    "-c",
    "32",
    "-d",
    String(seconds),
    "-j",
    ...Object.entries(headers).flatMap(([name, value]) => ["-H", `${name}=${value}`]),
    url,
  ];
  const proc = start(process.execPath, args, { prefix: pinning.load });
  let out = "";
  proc.child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const cpu = cpuWindow(server.pid);
  const recsCpu = cpuWindow(recommendations.pid);
  // Bounded in time by -d and this kill; in count by what one core can serve in that time.
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), seconds * 1000 + 30_000);
  await proc.exited;
  clearTimeout(timer);
  const serverCpu = cpu.read();
  const recommendationsCpu = recsCpu.read();
  const json = JSON.parse(out.slice(out.indexOf("{"))) as AutocannonJson;
  return {
    requestsPerSec: json.requests.average,
    p50Ms: json.latency.p50,
    p90Ms: json.latency.p90,
    p99Ms: json.latency.p99,
    maxMs: json.latency.max,
    non2xx: json.non2xx,
    errors: json.errors,
    timeouts: json.timeouts,
    total: json.requests.total,
    serverCpu,
    recommendationsCpu,
  };
}

/** The open-loop HTTP generator (bench/fixtures/http-load.ts) on core 1, with both services' CPU. */
async function httpLoad(
  config: HttpLoadConfig,
  server: Managed,
  recommendations: Managed,
): Promise<HttpLoadResult & { serverCpu: number; recommendationsCpu: number }> {
  const loader = startFixture("http-load", [JSON.stringify(config)], { prefix: pinning.load });
  const limit = config.warmupMs + config.durationMs + 30_000;
  try {
    await loader.waitFor((line) => line.event === "measuring", limit);
    const cpu = cpuWindow(server.pid);
    const recsCpu = cpuWindow(recommendations.pid);
    const line = await loader.waitFor((l) => l.event === "result", limit);
    return { ...(line.result as HttpLoadResult), serverCpu: cpu.read(), recommendationsCpu: recsCpu.read() };
  } finally {
    await loader.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The run

const suiteStart = performance.now();
const cmd = serviceCommand("recommendations");
results.meta = {
  date: new Date().toISOString(),
  mode: quick ? "quick (BENCH_QUICK=1)" : "full",
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores,
  pinning: pinning.note,
  serviceRuntime: cmd.runtime,
  grpcJs: (await import("@grpc/grpc-js/package.json", { with: { type: "json" } })).default.version,
  loadAverageAtStart: process.platform === "linux" ? (await import("node:os")).loadavg().map((l) => l.toFixed(2)) : [],
};
log(`${results.meta.mode} run; ${pinning.note}; services run from ${cmd.runtime}`);
mkdirSync(resultsDir, { recursive: true });

await section("codec", async () => {
  const proc = startTs(join(repoRoot, "bench", "codec.ts"), ["--json-event"], {
    prefix: pinning.load,
    env: { BENCH_CODEC_OPTIONS: JSON.stringify(P.codec) },
  });
  try {
    const line = await proc.waitFor((l) => l.event === "codec", 180_000);
    results.codec = line.result as CodecResult;
  } finally {
    await proc.stop();
  }
});

let service: RunningService | undefined;
let bare: RunningService | undefined;
let kit: RunningService | undefined;

await section("recommendations start-up", async () => {
  const servingMs: number[] = [];
  const tcpMs: number[] = [];
  for (let i = 0; i < P.startups; i++) {
    const run = await startRecommendations();
    servingMs.push(run.servingMs);
    tcpMs.push(run.tcpMs);
    if (i < P.startups - 1) await run.process.stop();
    else service = run;
  }
  results.startup.recommendationsMs = servingMs;
  results.startup.recommendationsTcpMs = tcpMs;
});

await section("recommendations idle memory", async () => {
  if (!service) throw new Error("Recommendations did not start");
  bare = await startBare();
  kit = await startKit();
  // Let start-up garbage settle: one second without traffic is "idle".
  await new Promise((resolve) => setTimeout(resolve, 1000));
  results.memory.recommendations = { idleMb: mb(rssBytes(service.process.pid)) };
  results.memory[SERVER_LABEL.bare] = { idleMb: mb(rssBytes(bare.process.pid)) };
  results.memory[SERVER_LABEL.kit] = { idleMb: mb(rssBytes(kit.process.pid)) };
});

await section("Recommend throughput (h2load)", async () => {
  if (!service || !bare || !kit) throw new Error("servers did not start");
  if (!h2loadAvailable()) throw new Error("h2load is not installed (Debian: nghttp2-client)");
  const servers = [
    ["bare", bare],
    ["kit", kit],
    ["service", service],
  ] as const;
  const rss = servers.map(([name, server]) => [name, sampleRss(server.process.pid)] as const);
  const raw: Record<string, { requestsPerSec: number; errors: number; serverCpu: number }[]> = {};
  const apis = ["v1", "legacy"] as const;
  for (const api of apis) {
    for (const [name, server] of servers) {
      const status = await grpcStatusOf(server.port, API[api].path, API[api].frame);
      if (status !== "0") throw new Error(`the pre-encoded ${api} request got grpc-status ${status} from ${name}`);
    }
  }
  // Each round runs every API on every server, so drift on a shared machine hits servers and APIs
  // alike instead of showing up as a difference between the APIs measured first and last.
  for (let round = 0; round < P.throughputRounds; round++) {
    for (const api of apis) {
      for (const [name, server] of servers) {
        const result = await h2loadRun(server, api, P.h2loadSeconds);
        const key = `${api}/${name}`;
        raw[key] = [...(raw[key] ?? []), result];
        const us = (result.serverCpu * 1e6) / Math.max(result.requestsPerSec, 1);
        log(
          `  ${api} ${name}: ${Math.round(result.requestsPerSec)} req/s, server CPU ${result.serverCpu.toFixed(2)}, ${us.toFixed(0)} µs/call`,
        );
      }
    }
  }
  for (const [key, runs] of Object.entries(raw)) {
    const [api, server] = key.split("/") as ["v1" | "legacy", ServerKind];
    const serverCpu = median(runs.map((r) => r.serverCpu));
    results.throughput.push({
      api,
      server,
      throughput: median(runs.map((r) => r.requestsPerSec)),
      serverCpu,
      usPerCall: median(runs.map((r) => (r.serverCpu * 1e6) / Math.max(r.requestsPerSec, 1))),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      rounds: runs.map((r) => Math.round(r.requestsPerSec)),
      limitedBy: limitOf(serverCpu),
    });
  }
  for (const [name, sampler] of rss) {
    const key = name === "service" ? "recommendations" : SERVER_LABEL[name];
    results.memory[key] = { ...results.memory[key], loadedMb: mb(sampler.stop()) };
  }
});

await section("cost of the per-call log line", async () => {
  if (!service) throw new Error("Recommendations did not start");
  // The same service with LOG_LEVEL=warn writes no line for OK calls; the CPU per call difference
  // is what the info line costs (pino serialisation + a synchronous write per call).
  const quiet = await startRecommendations({ LOG_LEVEL: "warn" });
  try {
    if (!h2loadAvailable()) throw new Error("h2load is not installed (Debian: nghttp2-client)");
    // h2load saturates the server's core (the grpc-js client cannot), so CPU per call is stable.
    const perCall: Record<string, number[]> = { info: [], warn: [] };
    for (let round = 0; round < P.throughputRounds; round++) {
      for (const [level, server] of [
        ["info", service],
        ["warn", quiet],
      ] as const) {
        const r = await h2loadRun(server, "v1", P.h2loadSeconds);
        perCall[level]?.push((r.serverCpu * 1e6) / Math.max(r.requestsPerSec, 1));
      }
    }
    const info = median(perCall.info ?? []);
    const warn = median(perCall.warn ?? []);
    results.logging = { infoUsPerCall: info, warnUsPerCall: warn, shareOfCall: (info - warn) / info };
    log(`  server CPU per call: ${info.toFixed(1)} µs at info, ${warn.toFixed(1)} µs at warn`);
  } finally {
    await quiet.process.stop();
  }
});

await section("Recommend latency at fixed rates (open loop)", async () => {
  if (!service || !bare || !kit) throw new Error("servers did not start");
  // The raw HTTP/2 generator replays the pre-encoded request frame (as h2load does) with little
  // CPU per call, so it can offer every fraction of the service's h2load maximum and the tail it
  // measures is the server's. The same offered rates for every series of an API, so the servers
  // are compared alike.
  const series = [
    { api: "v1", server: "service", target: service },
    { api: "legacy", server: "service", target: service },
    { api: "v1", server: "kit", target: kit },
    { api: "v1", server: "bare", target: bare },
  ] as const;
  const serviceMaxOf = (api: "v1" | "legacy"): number => {
    const max = results.throughput.find((r) => r.api === api && r.server === "service")?.throughput;
    if (max === undefined || !(max > 0)) throw new Error(`no maximum throughput for ${api}`);
    return max;
  };
  // Rates in the outer loop and the series inside, so every server meets the machine in the same
  // state; the half rate (the target's) runs `halfRateRounds` times and each series reports its
  // median round: one 4 s window can catch a burst of other load on this shared host.
  for (const fraction of P.rates) {
    const rounds = fraction === 0.5 ? P.halfRateRounds : 1;
    const bySeries = series.map(() => [] as LatencyRow[]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, s] of series.entries()) {
        const rate = Math.round(serviceMaxOf(s.api) * fraction);
        const r = await h2OpenLoad(h2OpenConfig(s.target.port, s.api, rate), s.target.process);
        bySeries[i]?.push(latencyRow(`${SERVER_LABEL[s.server]} ${s.api}`, "raw HTTP/2", s, fraction, rate, r));
        log(
          `  ${s.server} ${s.api} @${rate}/s (raw HTTP/2): p50 ${ms(r.latencyUs.p50)} ms p99 ${ms(r.latencyUs.p99)} ms (generator GC ${r.generatorGc.totalMs.toFixed(0)} ms, longest ${r.generatorGc.maxMs.toFixed(1)})`,
        );
      }
    }
    for (const rows of bySeries) {
      const sorted = [...rows].sort((a, b) => a.p99Ms - b.p99Ms);
      const middle = sorted[Math.floor((sorted.length - 1) / 2)];
      if (middle === undefined) continue;
      results.latency.push(rows.length > 1 ? { ...middle, p99Rounds: rows.map((r) => r.p99Ms) } : middle);
    }
  }
  // The same service through our own grpc-js client, as the Marketplace calls it. That client
  // needs more CPU per call than a bare server, so first find the most it can send from its one
  // core (closed loop against the bare server), and offer fractions of the smaller of that and
  // the service's maximum: beyond it the client's queue, not the server, would make the latency.
  const probe = await grpcLoad(
    { ...loadConfig(bare.port, "v1", 1), mode: "closed", concurrency: 100, durationMs: P.openMs },
    bare.process,
  );
  results.grpcClientMax = { requestsPerSec: probe.throughput, clientCpu: probe.cpu, serverCpu: probe.serverCpu };
  log(`  grpc-js client alone: ${Math.round(probe.throughput)} req/s (client CPU ${probe.cpu.toFixed(2)})`);
  const viaClient = { api: "v1", server: "service", target: service } as const;
  const clientMax = Math.min(serviceMaxOf("v1"), probe.throughput);
  for (const fraction of P.rates) {
    const rate = Math.round(clientMax * fraction);
    const r = await grpcLoad(loadConfig(service.port, "v1", rate), service.process);
    results.latency.push(
      latencyRow(`${SERVER_LABEL.service} v1 via grpc-js client`, "grpc-js client", viaClient, fraction, rate, r),
    );
    log(`  service v1 @${rate}/s (grpc-js client): p50 ${ms(r.latencyUs.p50)} ms p99 ${ms(r.latencyUs.p99)} ms`);
  }
});

await bare?.process.stop();
await kit?.process.stop();

await section("allocation per call", async () => {
  // Fresh servers with the sampling heap profiler preloaded (bench/lib/alloc-sampler.mjs), the
  // same open-loop load for each; sampling runs over the measured window only. Bytes allocated
  // per call barely move with the machine's speed, unlike CPU time, so they show whether a change
  // made the hot path leaner even when the CPU figures drown in noise.
  const sampler = ["--import", join(repoRoot, "bench", "lib", "alloc-sampler.mjs")];
  const dir = mkdtempSync(join(tmpdir(), "obfy-alloc-"));
  try {
    for (const server of ["bare", "kit", "service"] as const) {
      const prefix = join(dir, server);
      const env = { ALLOC_SAMPLER_OUT: prefix };
      const running =
        server === "bare"
          ? await startBare(sampler, env)
          : server === "kit"
            ? await startKit(sampler, env)
            : await startRecommendations(env, sampler);
      try {
        const measured: Partial<Record<"allocated" | "survived", AllocationSummary>> = {};
        for (const [n, mode] of (["allocated", "survived"] as const).entries()) {
          const file = `${prefix}.${n}.heapprofile`;
          const config = { ...h2OpenConfig(running.port, "v1", P.alloc.rate), durationMs: P.alloc.ms };
          const r = await h2OpenLoad(config, running.process, {
            onMeasuring: () => process.kill(running.process.pid, "SIGUSR2"),
            onResult: () => process.kill(running.process.pid, "SIGUSR2"),
          });
          await waitForFile(file, 10_000);
          measured[mode] = summariseAllocations(file, r.ok + r.errors);
        }
        const { allocated, survived } = measured;
        if (!allocated || !survived) throw new Error(`${server}: no allocation profile`);
        results.allocation.push({ server, rate: P.alloc.rate, allocated, survived });
        log(
          `  ${server}: ${(allocated.bytesPerCall / 1024).toFixed(1)} KiB allocated per call, ${(survived.bytesPerCall / 1024).toFixed(2)} KiB survived a young collection`,
        );
      } finally {
        await running.process.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

await section("Marketplace homepage", async () => {
  if (!service) throw new Error("Recommendations did not start");
  const market = serviceCommand("marketplace");
  const startMarketplace = async (): Promise<{ proc: Managed; port: number; readyMs: number }> => {
    const port = await freePort();
    const began = performance.now();
    const proc = start(market.command, market.args, {
      prefix: pinning.server,
      stdout: "null",
      env: serviceEnv(port, {
        RECOMMENDATIONS_HOST: "127.0.0.1",
        RECOMMENDATIONS_PORT: String(service?.port),
        // Required in production; any 32 random bytes do for a benchmark.
        COOKIE_SECRET: randomBytes(32).toString("hex"),
        // The limiter still runs on every request; it just must not turn the load into 429s.
        RATE_LIMIT_MAX: "1000000000",
      }),
    });
    try {
      await waitForTcp(port, 20_000, proc.exited);
      await waitForHttp200(`http://127.0.0.1:${port}/readyz`, 20_000);
    } catch (error) {
      await proc.stop();
      throw new Error(
        `Marketplace (${market.runtime}) did not start: ${(error as Error).message}; its logs went to /dev/null, run \`${[market.command, ...market.args].join(" ")}\` by hand to see why. ${proc.stderr().slice(-500)}`,
      );
    }
    return { proc, port, readyMs: performance.now() - began };
  };
  const readyMs: number[] = [];
  let current: { proc: Managed; port: number } | undefined;
  try {
    for (let i = 0; i < P.startups; i++) {
      const started = await startMarketplace();
      current = started;
      readyMs.push(started.readyMs);
      if (i < P.startups - 1) await current.proc.stop();
    }
    results.startup.marketplaceMs = readyMs;
    if (!current) throw new Error("Marketplace did not start");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    results.memory.marketplace = { idleMb: mb(rssBytes(current.proc.pid)) };

    const url = `http://127.0.0.1:${current.port}/`;
    const first = await fetch(url);
    const page = await first.text();
    if (!/<html/i.test(page) || page.includes(UNAVAILABLE_NOTICE)) {
      throw new Error("the homepage did not render recommendations; is Recommendations reachable?");
    }
    // A returning shopper's browser sends back the CSRF secret cookie set on its first visit;
    // the load does the same (a first visit also draws a secret and signs a cookie).
    const cookie = first.headers
      .getSetCookie()
      .map((c) => c.split(";", 1)[0])
      .join("; ");
    const headers: Record<string, string> = cookie === "" ? {} : { cookie };
    const rss = { market: sampleRss(current.proc.pid), recs: sampleRss(service.process.pid) };
    const max = await autocannon(url, P.httpSeconds, current.proc, service.process, headers);
    log(`  homepage max: ${Math.round(max.requestsPerSec)} req/s p99 ${max.p99Ms} ms`);
    const rate = Math.max(1, Math.round(max.requestsPerSec / 2));
    const half = await httpLoad(
      {
        url,
        rate,
        sockets: 64,
        headers,
        warmupMs: P.httpWarmupMs,
        durationMs: P.httpOpenMs,
        maxRequests: MAX_REQUESTS,
      },
      current.proc,
      service.process,
    );
    log(`  homepage @${rate}/s (open loop): p50 ${ms(half.latencyUs.p50)} ms p99 ${ms(half.latencyUs.p99)} ms`);
    // The floor under that figure: what the machine, the generator and Node's HTTP stack add on
    // their own, measured the same way at the same rate against a bare fastify hello world.
    const hello = startFixture("http-hello-server", [], {
      prefix: pinning.server,
      env: { HOST: "127.0.0.1", PORT: "0" },
    });
    let control: HttpLoadResult & { serverCpu: number };
    try {
      const ready = await hello.waitFor((line) => line.event === "ready", 30_000);
      const { recommendationsCpu: _unused, ...measured } = await httpLoad(
        {
          url: `http://127.0.0.1:${Number(ready.port)}/`,
          rate,
          sockets: 64,
          warmupMs: P.httpWarmupMs,
          durationMs: P.httpOpenMs,
          maxRequests: MAX_REQUESTS,
        },
        hello,
        hello,
      );
      control = measured;
    } finally {
      await hello.stop();
    }
    log(`  control (bare fastify) @${rate}/s: p50 ${ms(control.latencyUs.p50)} ms p99 ${ms(control.latencyUs.p99)} ms`);
    results.marketplace = {
      max,
      halfRate: { ...half, rate },
      control,
      usPerRequest: {
        marketplace: (max.serverCpu * 1e6) / Math.max(max.requestsPerSec, 1),
        recommendations: (max.recommendationsCpu * 1e6) / Math.max(max.requestsPerSec, 1),
      },
    };
    results.memory.marketplace = { ...results.memory.marketplace, loadedMb: mb(rss.market.stop()) };
    const recsLoaded = mb(rss.recs.stop());
    const recsMemory = results.memory.recommendations ?? {};
    results.memory.recommendations = { ...recsMemory, loadedMb: Math.max(recsMemory.loadedMb ?? 0, recsLoaded) };
  } finally {
    await current?.proc.stop();
  }
});

await service?.process.stop();

await section("scaling (cluster workers)", async () => {
  if (!h2loadAvailable()) throw new Error("h2load is not installed (Debian: nghttp2-client)");
  {
    const bodyFile = v1BodyFile;
    for (const workers of [1, 2]) {
      const port = await freePort();
      // Unpinned: the point is to use both cores. h2load shares them, so 2 workers cannot double.
      const proc = startFixture("recommendations-cluster", [], {
        stdout: "null",
        ipc: true,
        env: serviceEnv(port, { WORKERS: String(workers) }),
      });
      try {
        await proc.waitFor((line) => line.event === "ready", 60_000);
        const cpu0 = treeCpuSeconds(proc.pid);
        const t0 = performance.now();
        const r = await runH2load({
          port,
          path: V1_PATH,
          bodyFile,
          // Connections, not calls, are spread over workers: give each worker several.
          clients: 8,
          streams: 50,
          warmupSeconds: P.warmupMs / 1000,
          durationSeconds: P.scalingSeconds,
          prefix: [],
        });
        const serverCpu = (treeCpuSeconds(proc.pid) - cpu0) / ((performance.now() - t0) / 1000);
        results.scaling.push({ workers, requestsPerSec: r.requestsPerSec, serverCpu, tool: "h2load -c 8 -m 50" });
        log(`  ${workers} worker(s): ${Math.round(r.requestsPerSec)} req/s (server CPU ${serverCpu.toFixed(2)})`);
      } finally {
        await proc.stop(15_000);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Targets, report, charts

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || Number.isNaN(n) ? "n/a" : n.toLocaleString("en-US", { maximumFractionDigits: digits });

function ratioRow(api: "v1" | "legacy", kind: "kit" | "service"): Target | undefined {
  const s = results.throughput.find((r) => r.api === api && r.server === kind);
  const b = results.throughput.find((r) => r.api === api && r.server === "bare");
  if (!s || !b) return undefined;
  const ratio = s.throughput / b.throughput;
  // Throughput of a saturated core is 1 / (CPU per call), so the ratio of CPU per call is the
  // throughput ratio without the noise other processes on a shared machine add to req/s. It
  // decides the row; the req/s ratio of the same side-by-side runs is shown next to it.
  const cpuRatio = b.usPerCall / s.usPerCall;
  return {
    name: `${SERVER_LABEL[kind]} vs bare grpc-js (${api} Recommend)`,
    target: "≥ 90 % of bare",
    measured:
      `${(cpuRatio * 100).toFixed(0)} % by server CPU per call (${fmt(s.usPerCall, 1)} vs ${fmt(b.usPerCall, 1)} µs)` +
      `; ${(ratio * 100).toFixed(0)} % of h2load req/s (${fmt(s.throughput)} vs ${fmt(b.throughput)}` +
      `${Math.min(s.serverCpu, b.serverCpu) < 0.9 ? ", a server core not saturated: machine contention" : ""})`,
    pass: cpuRatio >= 0.9,
  };
}

/** "Recommend p99 ≤ 2 ms at half its maximum throughput": the service, v1, raw HTTP/2 open loop at 50 %. */
function recommendHalfRow(): Target | undefined {
  const r = results.latency.find(
    (l) => l.server === "service" && l.api === "v1" && l.generator === "raw HTTP/2" && l.fraction === 0.5,
  );
  if (!r) return undefined;
  const max = results.throughput.find((t) => t.api === "v1" && t.server === "service")?.throughput;
  // The control: a bare grpc-js server at the same rate, same generator. Its tail is the floor
  // this machine and the generator put under any server.
  const bare = results.latency.find(
    (l) => l.server === "bare" && l.api === "v1" && l.generator === "raw HTTP/2" && l.fraction === 0.5,
  );
  return {
    name: "Recommend p99 at half its max rate (v1, Recommendations service)",
    target: "≤ 2 ms",
    measured: `${fmt(r.p99Ms, 2)} ms at ${fmt(r.rate)} req/s (open loop, raw HTTP/2, median of ${P.halfRateRounds} round(s); h2load max ${fmt(max)} req/s; p50 ${fmt(r.p50Ms, 2)} ms; limited by ${r.limitedBy})${bare ? `; control, bare grpc-js at the same rate: p99 ${fmt(bare.p99Ms, 2)} ms` : ""}`,
    pass: r.p99Ms <= 2,
  };
}

const maxOf = (values: readonly number[] | undefined): number | undefined =>
  values && values.length > 0 ? median(values) : undefined;
const targets: (Target | undefined)[] = [
  ratioRow("v1", "kit"),
  ratioRow("legacy", "kit"),
  ratioRow("v1", "service"),
  ratioRow("legacy", "service"),
  recommendHalfRow(),
  results.marketplace && {
    name: "Marketplace homepage p99 at half its max rate",
    target: "≤ 10 ms",
    measured:
      `${fmt(results.marketplace.halfRate.latencyUs.p99 / 1000, 1)} ms at ${fmt(results.marketplace.halfRate.rate)} req/s (open loop; max ${fmt(results.marketplace.max.requestsPerSec)} req/s)` +
      (results.marketplace.control
        ? `; control, bare fastify hello world at the same rate: p99 ${fmt(results.marketplace.control.latencyUs.p99 / 1000, 1)} ms`
        : ""),
    pass: results.marketplace.halfRate.latencyUs.p99 / 1000 <= 10,
  },
  ...(["recommendations", "marketplace"] as const).map((name) => {
    const idle = results.memory[name]?.idleMb;
    return idle === undefined
      ? undefined
      : { name: `${name} RSS at idle`, target: "≤ 80 MB", measured: `${fmt(idle, 1)} MB`, pass: idle <= 80 };
  }),
  maxOf(results.startup.recommendationsMs) !== undefined
    ? {
        name: "Recommendations start-up: spawn → health SERVING",
        target: "≤ 500 ms",
        measured: `${fmt(maxOf(results.startup.recommendationsMs))} ms (median of ${results.startup.recommendationsMs?.length}, ${cmd.runtime})`,
        pass: (maxOf(results.startup.recommendationsMs) ?? Infinity) <= 500,
      }
    : undefined,
  maxOf(results.startup.marketplaceMs) !== undefined
    ? {
        name: "Marketplace start-up: spawn → /readyz 200",
        target: "≤ 500 ms",
        measured: `${fmt(maxOf(results.startup.marketplaceMs))} ms (median of ${results.startup.marketplaceMs?.length})`,
        pass: (maxOf(results.startup.marketplaceMs) ?? Infinity) <= 500,
      }
    : undefined,
];
results.targets = targets.filter((t): t is Target => t !== undefined);
for (const [name, s] of Object.entries(results.sections)) {
  if (!s.ok)
    results.targets.push({
      name: `section "${name}" ran`,
      target: "completes",
      measured: s.error ?? "failed",
      pass: false,
    });
}
results.meta.totalSeconds = Math.round((performance.now() - suiteStart) / 1000);

const charts: string[] = [];
async function chart(file: string, spec: Parameters<typeof writeChart>[1]): Promise<void> {
  try {
    await writeChart(join(resultsDir, file), spec);
    charts.push(file);
  } catch (error) {
    log(`chart ${file} failed: ${(error as Error).message}`);
  }
}
if (results.throughput.length > 0) {
  await chart(
    "throughput.svg",
    groupedBars({
      title: "Recommend unary throughput, server on one core (h2load)",
      groupTitle: null,
      valueTitle: "OK calls per second",
      rows: results.throughput.map((r) => ({
        group: `${r.api} Recommend`,
        series: SERVER_LABEL[r.server],
        value: Math.round(r.throughput),
      })),
    }),
  );
  await chart(
    "cpu-per-call.svg",
    groupedBars({
      title: "Server CPU per Recommend call (lower is better)",
      groupTitle: null,
      valueTitle: "µs of server CPU per call",
      rows: results.throughput.map((r) => ({
        group: `${r.api} Recommend`,
        series: SERVER_LABEL[r.server],
        value: Math.round(r.usPerCall),
      })),
    }),
  );
}
if (results.latency.length > 0) {
  await chart(
    "latency.svg",
    latencyLines({
      title: "Recommend latency at fixed offered rates (open loop, from intended send time)",
      rows: results.latency.flatMap((r) => [
        { series: r.series, rate: r.rate, percentile: "p50", ms: Math.max(r.p50Ms, 0.001) },
        { series: r.series, rate: r.rate, percentile: "p90", ms: Math.max(r.p90Ms, 0.001) },
        { series: r.series, rate: r.rate, percentile: "p99", ms: Math.max(r.p99Ms, 0.001) },
      ]),
    }),
  );
}
if (results.scaling.length > 0) {
  await chart(
    "scaling.svg",
    groupedBars({
      title: "Throughput vs worker processes (node:cluster, h2load)",
      groupTitle: "workers",
      valueTitle: "OK calls per second",
      rows: results.scaling.map((r) => ({
        group: String(r.workers),
        series: "Recommendations v1",
        value: Math.round(r.requestsPerSec),
      })),
    }),
  );
}
if (results.codec) {
  await chart(
    "codec.svg",
    horizontalBars({
      title: "Codec cost per message (lower is better)",
      valueTitle: "ns per operation",
      rows: results.codec.rows.map((r) => ({
        label: `${r.message.startsWith("RecommendRequest") ? "request" : "response"}: ${r.operation}`,
        series: r.codec,
        value: Math.round(r.nsPerOp),
      })),
    }),
  );
}

writeFileSync(join(resultsDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(resultsDir, "results.md"), renderMarkdown());
log(`done in ${results.meta.totalSeconds} s: bench/results/results.md`);
process.stdout.write(`${renderTargets()}\n`);
process.exit(0);

function renderTargets(): string {
  return [
    "| target | goal | measured | result |",
    "| --- | --- | --- | --- |",
    ...results.targets.map(
      (t) =>
        `| ${t.name} | ${t.target} | ${t.measured} | ${t.pass === undefined ? "info" : t.pass ? "PASS" : "FAIL"} |`,
    ),
  ].join("\n");
}

function renderMarkdown(): string {
  const m = results.meta;
  const out: string[] = [
    "# Benchmark results",
    "",
    `Generated by \`npm run bench\` on ${String(m.date)} (${String(m.mode)}, ${String(m.totalSeconds)} s). ` +
      `Node ${String(m.node)}, @grpc/grpc-js ${String(m.grpcJs)}, ${String(m.cores)} × ${String(m.cpu)}; ` +
      `load average at start ${(m.loadAverageAtStart as string[]).join(" ")}.`,
    "",
    `- ${pinning.note}`,
    `- Services run from ${cmd.runtime === "dist" ? `the compiled one-file bundle dist/main.bundle.js with each service's node flags (recommendations: ${serviceNodeFlags("recommendations").join(" ")}; marketplace: ${serviceNodeFlags("marketplace").join(" ")}; exactly as in production, scripts/service-node-flags.mjs; \`npm run bench\` builds first)` : "TypeScript sources through tsx (BENCH_RUNTIME=source: start-up, memory and CPU figures are NOT production-like)"}, with NODE_ENV=production and JSON logs at info written to /dev/null; bench fixtures (bare and kit servers, load generators) from ${fixtureRuntime === "dist" ? "JavaScript compiled by esbuild" : "TypeScript through tsx"}; the kit fixture with the flags every service has (${COMMON_NODE_FLAGS.join(" ")}), the bare grpc-js server with Node's defaults.`,
    "- Loopback only; every load run is bounded in time and in count.",
    "",
    "## Targets",
    "",
    renderTargets(),
    "",
    "Reference points we were given for unary Recommend on one core: grpc-js ≈ 29k req/s, Python grpcio ≈ 11.5k, connect-node ≈ 3.9k.",
    "",
  ];
  if (results.throughput.length > 0) {
    out.push(
      "## Recommend throughput (h2load, server-bound)",
      "",
      `h2load (nghttp2, native, on core 1) replays one pre-encoded gRPC request (5-byte prefix + the request message; content-type application/grpc, te: trailers; first checked to get grpc-status 0) over ${CONNECTIONS} connections × ${H2_STREAMS} streams: ${Math.max(1, Math.round(P.warmupMs / 1000))} s warm-up, ${P.h2loadSeconds} s measured, median of ${P.throughputRounds} round(s), each round running both APIs on every server in turn. It does no per-call JavaScript, so the server's core is the limit ("server CPU" ≈ 1.00); "µs per call" is the server's CPU time divided by the calls it answered, the figure that survives other load on the machine. The grpc-js client is not used for throughput: on this machine it needs more CPU per call than the server it loads.`,
      "",
      "| API | server | req/s | rounds | server CPU | server CPU µs per call | vs bare (CPU per call) | errors | limited by |",
      "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
      ...results.throughput.map((r) => {
        const bare = results.throughput.find((b) => b.api === r.api && b.server === "bare");
        const share = bare ? `${((bare.usPerCall / r.usPerCall) * 100).toFixed(0)} %` : "n/a";
        return `| ${r.api} | ${SERVER_LABEL[r.server]} | ${fmt(r.throughput)} | ${r.rounds.map((v) => fmt(v)).join(", ")} | ${r.serverCpu.toFixed(2)} | ${fmt(r.usPerCall, 1)} | ${share} | ${r.errors} | ${r.limitedBy} |`;
      }),
      "",
    );
  }
  if (results.logging) {
    const l = results.logging;
    out.push(
      "### What the per-call log line costs",
      "",
      `Same service, loaded by h2load (server core saturated), LOG_LEVEL=info (one JSON line per call) vs LOG_LEVEL=warn (none for OK calls): ${fmt(l.infoUsPerCall, 1)} vs ${fmt(l.warnUsPerCall, 1)} µs of server CPU per call, so the line is ${(l.shareOfCall * 100).toFixed(0)} % of a call's cost (median of ${P.throughputRounds} alternated round(s)).`,
      "",
    );
  }
  if (results.latency.length > 0) {
    out.push(
      "## Recommend latency at fixed rates (open loop)",
      "",
      `Calls are sent on a clock schedule at a fixed fraction of the Recommendations service's h2load maximum, whether or not earlier calls have answered, and each latency is measured from the call's intended send time (no coordinated omission); HDR histogram; ${P.openMs} ms per rate after ${P.warmupMs} ms warm-up; rates in the outer loop, servers alternated inside it, and the half rate run ${P.halfRateRounds} time(s), each raw series reporting its median round ("p99 of each round"). Two generators, both on core 1: "raw HTTP/2" (bench/fixtures/h2-open-load.ts: HTTP/2 framed by hand on ${CONNECTIONS} TCP connections (bench/lib/h2-raw.ts, HPACK from the \`hpack\` package), replaying the same pre-encoded request frame as h2load, so it allocates and spends little per call, its own GC pauses (the "generator GC" column: total and longest in the window) stay small, and it can offer every fraction; it yields with setImmediate between sends closer than a timer tick, so its CPU column reads high without it being behind) and "via grpc-js client" (our own client stack, compiled JavaScript, ${CONNECTIONS} channels with \`grpc.use_local_subchannel_pool\`), whose rates are fractions of the smaller of the service maximum and the client's own ceiling (${fmt(results.grpcClientMax?.requestsPerSec)} req/s closed loop against the bare server, client CPU ${results.grpcClientMax?.clientCpu.toFixed(2) ?? "n/a"}). "Send lag" is how far the generator fell behind its schedule (it counts in the latency); "limited by" says whether the tail is the server's or the generator's.`,
      "",
      "| series | rate (req/s) | achieved | p50 ms | p90 ms | p99 ms | p99 of each round | max ms | errors | dropped | send lag p99 ms | generator GC ms (longest) | server CPU | client CPU | limited by |",
      "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
      ...results.latency.map(
        (r) =>
          `| ${r.series} (${Math.round(r.fraction * 100)} %) | ${fmt(r.rate)} | ${fmt(r.achieved)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p90Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.p99Rounds ? r.p99Rounds.map((v) => fmt(v, 2)).join(", ") : "one round"} | ${fmt(r.maxMs, 1)} | ${r.errors} | ${r.dropped} | ${fmt(r.sendLagP99Ms, 2)} | ${r.generatorGc ? `${fmt(r.generatorGc.totalMs, 0)} (${fmt(r.generatorGc.maxMs, 1)})` : "n/a"} | ${r.serverCpu.toFixed(2)} | ${r.clientCpu.toFixed(2)} | ${r.limitedBy} |`,
      ),
      "",
    );
  }
  if (results.allocation.length > 0) {
    const kib = (bytes: number): string => fmt(bytes / 1024, 1);
    const areas = (summary: AllocationSummary, server: ServerKind): string =>
      server === "service"
        ? "one bundle: not split by area"
        : summary.byArea
            .filter((a) => a.bytesPerCall >= 100)
            .map((a) => `${a.area} ${kib(a.bytesPerCall)}`)
            .join("; ");
    out.push(
      "## Allocation per call",
      "",
      `Each server freshly started with V8's sampling heap profiler preloaded (bench/lib/alloc-sampler.mjs, one sample per KiB on average), loaded by the raw HTTP/2 open-loop generator at ${fmt(P.alloc.rate)} v1 calls per second, ${P.alloc.ms} ms sampled after ${P.warmupMs} ms of warm-up; once counting everything allocated, once more counting only what survived a young collection (copied, then promoted: what makes young pauses long and fills the old generation). Bytes per call hardly depend on how fast the machine is at the moment, unlike CPU time, so this table shows a leaner hot path even when the CPU figures are lost in noise. Allocations inside V8 builtins (Map, Array, …) count towards their JavaScript caller's area; the service runs as one bundle, so its bytes are not split.`,
      "",
      "| server | KiB allocated per call | KiB per call that survived a young collection | allocated, by area (KiB per call) |",
      "| --- | ---: | ---: | --- |",
      ...results.allocation.map(
        (a) =>
          `| ${SERVER_LABEL[a.server]} | ${kib(a.allocated.bytesPerCall)} | ${fmt(a.survived.bytesPerCall / 1024, 2)} | ${areas(a.allocated, a.server)} |`,
      ),
      "",
    );
  }
  if (results.marketplace) {
    const { max, halfRate, usPerRequest } = results.marketplace;
    out.push(
      "## Marketplace homepage",
      "",
      "`GET /` (server-rendered page with three real recommendations and the CSRF-protected form) with the CSRF secret cookie a returning browser sends; Marketplace and Recommendations both on core 0, load on core 1. Maximum: autocannon, closed loop, 32 connections. Latency at half that rate: an open-loop generator (bench/fixtures/http-load.ts, 64 keep-alive sockets) that spaces requests evenly and measures from each request's intended send time, over " +
        `${P.httpOpenMs} ms after ${P.httpWarmupMs} ms of warm-up at the same rate ` +
        "(autocannon's `-R` sends each second's budget in a burst, which measured a saturated server, not half load).",
      "",
      "| run | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | Marketplace CPU | Recommendations CPU | limited by |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
      `| max (autocannon) | ${fmt(max.requestsPerSec)} | ${max.p50Ms} | ${max.p90Ms} | ${max.p99Ms} | ${max.maxMs} | ${max.non2xx} | ${max.errors} | ${max.serverCpu.toFixed(2)} | ${max.recommendationsCpu.toFixed(2)} | ${max.serverCpu + max.recommendationsCpu >= 0.9 ? "core 0 (both services)" : "neither saturated: machine contention"} |`,
      `| open loop at ${fmt(halfRate.rate)} req/s (half) | ${fmt(halfRate.throughput)} | ${fmt(halfRate.latencyUs.p50 / 1000, 2)} | ${fmt(halfRate.latencyUs.p90 / 1000, 2)} | ${fmt(halfRate.latencyUs.p99 / 1000, 2)} | ${fmt(halfRate.latencyUs.max / 1000, 1)} | ${halfRate.non2xx} | ${halfRate.errors} | ${halfRate.serverCpu.toFixed(2)} | ${halfRate.recommendationsCpu.toFixed(2)} | ${halfRate.sendLagP99Us > 1000 ? `load generator (send lag p99 ${fmt(halfRate.sendLagP99Us / 1000, 1)} ms)` : "offered rate"} |`,
      ...(results.marketplace.control
        ? [
            `| control: bare fastify hello world, open loop at ${fmt(halfRate.rate)} req/s | ${fmt(results.marketplace.control.throughput)} | ${fmt(results.marketplace.control.latencyUs.p50 / 1000, 2)} | ${fmt(results.marketplace.control.latencyUs.p90 / 1000, 2)} | ${fmt(results.marketplace.control.latencyUs.p99 / 1000, 2)} | ${fmt(results.marketplace.control.latencyUs.max / 1000, 1)} | ${results.marketplace.control.non2xx} | ${results.marketplace.control.errors} | ${results.marketplace.control.serverCpu.toFixed(2)} | n/a | ${results.marketplace.control.sendLagP99Us > 1000 ? `load generator (send lag p99 ${fmt(results.marketplace.control.sendLagP99Us / 1000, 1)} ms)` : "offered rate"} |`,
          ]
        : []),
      "",
      "The control row is the floor under the homepage's tail: the same generator at the same rate against a fastify server that only returns a fixed page (bench/fixtures/http-hello-server.ts, core 0). Whatever it shows comes from the machine (other processes on the shared cores), the generator and Node's HTTP stack, not from the Marketplace.",
      "",
      `Server CPU per homepage request at the maximum: Marketplace ${fmt(usPerRequest.marketplace)} µs, Recommendations ${fmt(usPerRequest.recommendations)} µs.`,
      "",
    );
  }
  out.push("## Memory (RSS)", "", "| process | idle MB | peak under load MB |", "| --- | ---: | ---: |");
  for (const [name, value] of Object.entries(results.memory)) {
    out.push(`| ${name} | ${fmt(value.idleMb, 1)} | ${fmt(value.loadedMb, 1)} |`);
  }
  out.push(
    "",
    "## Start-up",
    "",
    "| service | measure | runs (ms) | median ms |",
    "| --- | --- | --- | ---: |",
    `| Recommendations | spawn → TCP accepting | ${(results.startup.recommendationsTcpMs ?? []).map((v) => fmt(v)).join(", ")} | ${fmt(maxOf(results.startup.recommendationsTcpMs))} |`,
    `| Recommendations | spawn → grpc.health.v1 SERVING | ${(results.startup.recommendationsMs ?? []).map((v) => fmt(v)).join(", ")} | ${fmt(maxOf(results.startup.recommendationsMs))} |`,
    `| Marketplace | spawn → GET /readyz 200 | ${(results.startup.marketplaceMs ?? []).map((v) => fmt(v)).join(", ")} | ${fmt(maxOf(results.startup.marketplaceMs))} |`,
    "",
  );
  if (results.scaling.length > 0) {
    out.push(
      "## Scaling with worker processes",
      "",
      `The Recommendations service under the kit's cluster mode (\`WORKERS=n\`, node:cluster, one shared port), unpinned, loaded by h2load (8 connections × 50 streams, ${P.scalingSeconds} s) on the same ${cores} cores. Connections are balanced across workers, not calls. With 2 cores and the load generator needing one, 2 workers cannot double the throughput here.`,
      "",
      "| workers | req/s | server CPU (cores) |",
      "| ---: | ---: | ---: |",
      ...results.scaling.map((r) => `| ${r.workers} | ${fmt(r.requestsPerSec)} | ${r.serverCpu.toFixed(2)} |`),
      "",
    );
  }
  if (results.codec) out.push("## Codec: ts-proto vs protobuf-es v2", "", codecMarkdown(results.codec), "");
  if (charts.length > 0) {
    out.push("## Charts", "", ...charts.map((c) => `![${c}](${c})`), "");
  }
  const failed = Object.entries(results.sections).filter(([, s]) => !s.ok);
  if (failed.length > 0) {
    out.push("## Sections that failed", "", ...failed.map(([name, s]) => `- ${name}: ${s.error}`), "");
  }
  return `${out.join("\n")}\n`;
}
