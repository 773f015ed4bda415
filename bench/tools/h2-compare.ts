/**
 * A quick side-by-side of Recommend servers under h2load, for working on the per-call cost:
 * server CPU µs per call, rounds alternated, optionally with `--cpu-prof` summaries.
 *
 * `flock /tmp/team/bench.lock node --conditions=source --import tsx bench/tools/h2-compare.ts`
 *
 * Environment: SERVERS (comma list of bare, kit, kit-adapter, kit-logging, service; default
 * bare,kit,service; a path ending in .ts runs that script through tsx, for experiments: it
 * must print `{"event":"ready","port":N}` on stdout like bare-server.ts; `name@--flag@--flag`
 * adds node flags to one server), APIS (v1,legacy), ROUNDS (2), SECONDS (3), RATE=N (instead of
 * h2load, the raw HTTP/2 open-loop generator at N calls/s for SECONDS after 2 s of warm-up, and
 * the p99 per round; for latency A/B runs of flags or code), PROF=1 (run the servers under
 * `--cpu-prof` and print where their time went; profiling slows them, so µs figures from a
 * profiled run are not comparable with unprofiled ones). Fixtures and the service run from
 * source through tsx unless BENCH_FIXTURES_DIR / BENCH_RUNTIME=dist say otherwise (see
 * bench/lib/procs.ts); compare servers within one run, not across runtimes. BUILD=1 first builds
 * the kit and the service (tsc) and compiles the fixtures with esbuild, then runs everything
 * from JavaScript as `npm run bench` does (the numbers to trust: tsx adds helpers of its own).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { compileFixtures } from "../../scripts/compile-fixtures.mjs";
import { COMMON_NODE_FLAGS } from "../../scripts/service-node-flags.mjs";
import type { H2OpenLoadConfig } from "../fixtures/h2-open-load.js";
import { grpcFrame, grpcStatusOf, runH2load, writeFrameFile } from "../lib/h2load.js";
import {
  detectPinning,
  fixtureArgs,
  freePort,
  killAll,
  type Managed,
  repoRoot,
  serviceCommand,
  start,
  treeCpuSeconds,
  waitForServing,
} from "../lib/procs.js";
import { areaOf } from "../profile.js";

process.on("exit", killAll);
if (process.env.BUILD === "1") {
  for (const ws of ["packages/protos", "packages/kit", "services/recommendations"]) {
    const built = spawnSync("npm", ["run", "build", "-w", ws], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (built.status !== 0) throw new Error(`build of ${ws} failed`);
  }
  // Inside the repo, so the compiled fixtures resolve the workspaces (built dist/) from node_modules.
  const out = join(repoRoot, "bench", "results", "tmp", `h2-compare-fixtures-${process.pid}`);
  await compileFixtures(out, ["bare-server", "kit-stack-server", "kit-server-only", "h2-open-load"]);
  process.env.BENCH_FIXTURES_DIR = out;
  process.env.BENCH_RUNTIME = "dist";
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
}
const pinning = detectPinning(availableParallelism());
const servers = (process.env.SERVERS ?? "bare,kit,service").split(",");
const apis = (process.env.APIS ?? "v1,legacy").split(",") as ("v1" | "legacy")[];
const rounds = Number(process.env.ROUNDS ?? 2);
const seconds = Number(process.env.SECONDS ?? 3);
const prof = process.env.PROF === "1";
/** RATE=N: measure p99 latency at N calls/s (open loop) instead of CPU per call under h2load. */
const rate = Number(process.env.RATE ?? 0);
const p99s = new Map<string, number[]>();
const profRoot = join(tmpdir(), `h2-compare-${process.pid}`);

const dir = join(tmpdir(), `h2-compare-frames-${process.pid}`);
mkdirSync(dir, { recursive: true });
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const frames = {
  v1: {
    path: "/bookstore.recommendations.v1.RecommendationsService/Recommend",
    frame: grpcFrame(
      recommendationsV1.RecommendRequest.encode({
        userId: 1,
        category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
        maxResults: 3,
      }).finish(),
    ),
  },
  legacy: {
    path: "/Recommendations/Recommend",
    frame: grpcFrame(
      legacyRecommendations.RecommendationRequest.encode({
        userId: 1,
        category: legacyRecommendations.BookCategory.SCIENCE_FICTION,
        maxResults: 3,
      }).finish(),
    ),
  },
};
const bodies = {
  v1: writeFrameFile(dir, "v1.grpc", frames.v1.frame),
  legacy: writeFrameFile(dir, "legacy.grpc", frames.legacy.frame),
};

interface Running {
  name: string;
  proc: Managed;
  port: number;
  profDir: string;
}

async function launch(spec: string): Promise<Running> {
  // `kit@--max-semi-space-size=16`: extra node flags for this server (e.g. heap settings).
  const [name = spec, ...flags] = spec.split("@");
  const profDir = join(profRoot, spec.replace(/[^\w.-]+/g, "_"));
  const profArgs = [...flags, ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])];
  const env = { NODE_ENV: "production", LOG_FORMAT: "json", LOG_LEVEL: "info" };
  if (name === "service") {
    const port = await freePort();
    const cmd = serviceCommand("recommendations");
    const proc = start(cmd.command, [...profArgs, ...cmd.args], {
      prefix: pinning.server,
      stdout: "null",
      env: { ...env, PORT: String(port), HOST: "127.0.0.1", METRICS_HOST: "127.0.0.1", METRICS_PORT: "0" },
    });
    await waitForServing(port, 30_000);
    return { name: spec, proc, port, profDir };
  }
  if (name.endsWith(".ts")) {
    // An experiment: any script that prints {"event":"ready","port"} like bare-server.ts, through tsx.
    const proc = start(process.execPath, [...profArgs, "--conditions=source", "--import", "tsx", name], {
      prefix: pinning.server,
      env,
    });
    const ready = await proc.waitFor((l) => l.event === "ready", 30_000);
    return { name: spec, proc, port: Number(ready.port), profDir };
  }
  if (name === "bare") {
    const proc = start(process.execPath, [...profArgs, ...fixtureArgs("bare-server")], { prefix: pinning.server });
    const ready = await proc.waitFor((l) => l.event === "ready", 30_000);
    return { name: spec, proc, port: Number(ready.port), profDir };
  }
  const fixture = name === "kit" ? "kit-stack-server" : "kit-server-only";
  const layers = name === "kit-adapter" ? { KIT_LAYERS: "adapter" } : { KIT_LAYERS: "logging" };
  // The kit fixtures run with the services' node flags (extra flags after them override).
  const proc = start(process.execPath, [...COMMON_NODE_FLAGS, ...profArgs, ...fixtureArgs(fixture)], {
    prefix: pinning.server,
    stdout: "null",
    ipc: true,
    env: { ...env, ...layers },
  });
  const ready = await proc.waitFor((l) => l.event === "ready", 30_000);
  return { name: spec, proc, port: Number(ready.port), profDir };
}

/** p99 (ms) of one open-loop run (bench/fixtures/h2-open-load.ts on the load core) at `rate` calls/s. */
async function openLoopP99(port: number, api: "v1" | "legacy", rate: number): Promise<number> {
  const config: H2OpenLoadConfig = {
    origin: `http://127.0.0.1:${port}`,
    path: frames[api].path,
    frameBase64: frames[api].frame.toString("base64"),
    rate,
    connections: 4,
    maxOutstanding: 5000,
    warmupMs: 2000,
    durationMs: seconds * 1000,
    maxRequests: rate * (seconds + 3),
  };
  const loader = start(process.execPath, [...fixtureArgs("h2-open-load"), JSON.stringify(config)], {
    prefix: pinning.load,
  });
  try {
    const line = await loader.waitFor((l) => l.event === "result", config.warmupMs + config.durationMs + 30_000);
    const result = line.result as { ok: number; errors: number; latencyUs: { p99: number } };
    if (result.errors > 0) throw new Error(`${result.errors} calls failed at ${rate}/s`);
    return result.latencyUs.p99 / 1000;
  } finally {
    await loader.stop();
  }
}

const running: Running[] = [];
for (const name of servers) running.push(await launch(name));
const perCall = new Map<string, number[]>();
const skip = (r: Running, api: string): boolean => /^kit-(adapter|logging)/.test(r.name) && api === "legacy";
for (const api of apis) {
  for (const r of running) {
    if (skip(r, api)) continue;
    const status = await grpcStatusOf(r.port, frames[api].path, frames[api].frame);
    if (status !== "0") throw new Error(`${r.name} ${api}: grpc-status ${status}`);
  }
}
// Rounds outermost, then APIs, then servers: drift on a shared machine hits every pair alike.
for (let round = 0; round < rounds; round++) {
  for (const api of apis) {
    for (const r of running) {
      if (skip(r, api)) continue;
      if (rate > 0) {
        // Latency mode: the raw HTTP/2 open-loop generator at RATE calls/s.
        const p99 = await openLoopP99(r.port, api, rate);
        const key = `${api} ${r.name}`;
        p99s.set(key, [...(p99s.get(key) ?? []), p99]);
        process.stderr.write(`${key}: p99 ${p99.toFixed(2)} ms at ${rate}/s\n`);
        continue;
      }
      const cpu0 = treeCpuSeconds(r.proc.pid);
      const t0 = performance.now();
      const result = await runH2load({
        port: r.port,
        path: frames[api].path,
        bodyFile: bodies[api],
        clients: 4,
        streams: 100,
        warmupSeconds: 1,
        durationSeconds: seconds,
        prefix: pinning.load,
      });
      const cpu = (treeCpuSeconds(r.proc.pid) - cpu0) / ((performance.now() - t0) / 1000);
      const us = (cpu * 1e6) / Math.max(1, result.requestsPerSec);
      const key = `${api} ${r.name}`;
      perCall.set(key, [...(perCall.get(key) ?? []), us]);
      process.stderr.write(
        `${key}: ${Math.round(result.requestsPerSec)} req/s, cpu ${cpu.toFixed(2)}, ${us.toFixed(1)} µs/call, errors ${result.failed + result.errored}\n`,
      );
    }
  }
}
for (const r of running) await r.proc.stop(30_000);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
for (const [key, values] of p99s) {
  process.stdout.write(
    `${key}: p99 ${median(values).toFixed(2)} ms median of ${values.map((v) => v.toFixed(2)).join(", ")} at ${rate}/s\n`,
  );
}
for (const api of apis) {
  const bare = perCall.get(`${api} bare`);
  for (const [key, values] of perCall) {
    if (!key.startsWith(`${api} `)) continue;
    const m = median(values);
    const ratio = bare ? ` (${((m / median(bare)) * 100).toFixed(0)} % of bare's CPU per call)` : "";
    process.stdout.write(
      `${key}: ${m.toFixed(1)} µs/call median of ${values.map((v) => v.toFixed(1)).join(", ")}${ratio}\n`,
    );
  }
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
if (prof) {
  for (const r of running) {
    const file = readdirSync(r.profDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) continue;
    const profile = JSON.parse(readFileSync(join(r.profDir, file), "utf8")) as {
      nodes: Node[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const handling = new Map<number, boolean>();
    const isHandling = (id: number): boolean => {
      let v = handling.get(id);
      if (v === undefined) {
        v = false;
        for (let n = byId.get(id); n; n = byId.get(parent.get(n.id) ?? -1)) {
          if (/^(recommendV1|recommendLegacy|recommend)$/.test(n.callFrame.functionName)) v = true;
        }
        handling.set(id, v);
      }
      return v;
    };
    const first = profile.samples.findIndex(isHandling);
    let last = profile.samples.length - 1;
    while (last > first && !isHandling(profile.samples[last] ?? -1)) last--;
    const self = new Map<string, number>();
    const area = new Map<string, number>();
    const incl = new Map<string, number>();
    let busy = 0;
    for (let i = Math.max(first, 0); i <= last; i++) {
      const leaf = byId.get(profile.samples[i] ?? -1);
      if (!leaf || leaf.callFrame.functionName === "(idle)") continue;
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      busy += ms;
      const label = (n: Node): string =>
        `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, "")}:${n.callFrame.lineNumber + 1}`;
      self.set(label(leaf), (self.get(label(leaf)) ?? 0) + ms);
      area.set(areaOf(leaf.callFrame), (area.get(areaOf(leaf.callFrame)) ?? 0) + ms);
      const seen = new Set<string>();
      for (let n: Node | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) seen.add(label(n));
      for (const l of seen) incl.set(l, (incl.get(l) ?? 0) + ms);
    }
    const top = (m: Map<string, number>, k: number): string =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, k)
        .map(([n, v]) => `  ${((v / busy) * 100).toFixed(1).padStart(5)} %  ${n}`)
        .join("\n");
    process.stdout.write(
      `\n=== ${r.name}: ${(busy / 1000).toFixed(1)} s busy\n-- areas (self)\n${top(area, 20)}\n-- top self\n${top(self, Number(process.env.TOP ?? 40))}\n-- top inclusive\n${top(incl, Number(process.env.TOP ?? 40))}\n`,
    );
  }
  if (process.env.PROF_KEEP !== "1") rmSync(profRoot, { recursive: true, force: true });
  else process.stdout.write(`profiles kept in ${profRoot}\n`);
}
process.exit(0);
