/**
 * Where does the Recommendations server spend its CPU? Runs the real service (production
 * settings, core 0) under `node --cpu-prof`, loads it with the gRPC load generator (closed loop,
 * core 1), and summarises the V8 profile: self time by area (logging, grpc-js, HTTP/2, protobuf,
 * kit, metrics, tracing, async context, GC) and inclusive time of the kit's own functions.
 *
 * `npm run bench -- profile` (PROFILE_SECONDS, default 10; PROFILE_API=v1|legacy;
 * PROFILE_SERVER=kit (default: the kit's full stack with metrics and tracing, the same Recommend
 * logic) or service (the real service's main)). Writes
 * bench/results/profile.md; the raw .cpuprofile (open it in Chrome DevTools) stays in
 * bench/results/tmp/, which git ignores.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { LoadConfig, LoadResult } from "./fixtures/grpc-load.js";
import {
  detectPinning,
  fixtureArgs,
  fixtureRuntime,
  freePort,
  killAll,
  repoRoot,
  serviceCommand,
  start,
  startFixture,
  waitForServing,
} from "./lib/procs.js";
import { serviceEnv } from "./lib/service-env.js";

function unbundled(cmd: ReturnType<typeof serviceCommand>): ReturnType<typeof serviceCommand> {
  return { ...cmd, args: cmd.args.map((arg) => arg.replace(/main\.bundle\.js$/, "main.js")) };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The area a stack frame belongs to, from its script URL and name. */
export function areaOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (functionName === "(root)") return "(root)";
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(idle)") return "idle";
  if (functionName === "(program)") return "V8/native (program)";
  if (/pino|sonic-boom|fast-redact|safe-stable-stringify|quick-format|thread-stream/.test(url)) return "logging (pino)";
  if (/prom-client/.test(url)) return "metrics (prom-client)";
  if (/opentelemetry/.test(url)) return "tracing (OpenTelemetry)";
  if (/@grpc\/grpc-js/.test(url)) return "grpc-js";
  if (/@bufbuild\/protobuf|packages\/protos\//.test(url)) return "protobuf encode/decode";
  if (/packages\/kit\/(src|dist)\/observability/.test(url)) return "kit observability interceptors";
  if (/packages\/kit\/(src|dist)\/server\/logging-interceptor/.test(url)) return "kit logging interceptor";
  if (/packages\/kit\//.test(url)) return "kit adapter (context, interceptors, errors)";
  if (/services\/recommendations\//.test(url)) return "Recommend handler";
  if (/node:internal\/http2|node:http2/.test(url)) return "HTTP/2 (node core)";
  if (/async_hooks|async_local_storage|async_context/.test(url)) return "async context (AsyncLocalStorage)";
  if (/^node:/.test(url)) return "node core (other)";
  if (url === "") return "native / builtins";
  return "other";
}

/**
 * Self and inclusive milliseconds per area and per kit function, over the loaded window only:
 * from the first to the last sample with the kit's call handler on the stack, so start-up
 * (module loading, compilation) and shutdown do not dilute the figures.
 */
export function summarise(profile: CpuProfile): {
  totalMs: number;
  busyMs: number;
  selfByArea: Map<string, number>;
  inclusiveByArea: Map<string, number>;
  topSelf: { name: string; ms: number }[];
  kitInclusive: { name: string; ms: number }[];
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByArea = new Map<string, number>();
  const inclusiveByArea = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  const kitInclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, value: number): void => {
    map.set(key, (map.get(key) ?? 0) + value);
  };
  const label = (frame: ProfileNode["callFrame"]): string => {
    const file = frame.url.replace(/^.*\/(node_modules\/)?/, "").replace(/^file:\/\//, "");
    return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
  };
  const stackOf = (id: number): ProfileNode[] => {
    const frames: ProfileNode[] = [];
    for (let n = byId.get(id); n; n = byId.get(parent.get(n.id) ?? -1)) frames.push(n);
    return frames;
  };
  const handling = (id: number): boolean => stackOf(id).some((n) => /method-handler/.test(n.callFrame.url));
  const first = profile.samples.findIndex(handling);
  let last = profile.samples.length - 1;
  while (last > first && !handling(profile.samples[last] ?? -1)) last--;
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    if (first === -1 || i < first || i > last) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const leaf = byId.get(id);
    if (!leaf) return;
    add(selfByArea, areaOf(leaf.callFrame), ms);
    if (leaf.callFrame.functionName !== "(idle)") add(selfByFn, label(leaf.callFrame), ms);
    const areas = new Set<string>();
    const kitFns = new Set<string>();
    for (const n of stackOf(id)) {
      areas.add(areaOf(n.callFrame));
      if (/packages\/kit\//.test(n.callFrame.url)) kitFns.add(label(n.callFrame));
    }
    for (const area of areas) add(inclusiveByArea, area, ms);
    for (const fn of kitFns) add(kitInclusive, fn, ms);
  });
  const busyMs = totalMs - (selfByArea.get("idle") ?? 0);
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms }));
  return {
    totalMs,
    busyMs,
    selfByArea,
    inclusiveByArea,
    topSelf: top(selfByFn, 25),
    kitInclusive: top(kitInclusive, 15),
  };
}

const invokedDirectly = process.argv[1]?.endsWith("profile.ts") === true;
if (invokedDirectly) {
  process.on("exit", killAll);
  const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
  const api = process.env.PROFILE_API === "legacy" ? "legacy" : "v1";
  const pinning = detectPinning(availableParallelism());
  const profileDir = join(repoRoot, "bench", "results", "tmp", `profile-${Date.now()}`);
  mkdirSync(profileDir, { recursive: true });
  const which = process.env.PROFILE_SERVER === "service" ? "service" : "kit";
  const cmd =
    which === "service"
      ? // Production runs the one-file bundle, where every package shares one script URL; the
        // unbundled dist/main.js runs the same code with real file names, so time can be
        // attributed to packages and files.
        unbundled(serviceCommand("recommendations"))
      : {
          command: process.execPath,
          args: fixtureArgs("kit-stack-server"),
          runtime: fixtureRuntime,
        };
  let port = await freePort();
  // --cpu-prof goes before the script; the tsx flags (if any) stay with it.
  const server = start(cmd.command, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, ...cmd.args], {
    prefix: pinning.server,
    stdout: "null",
    ipc: which === "kit",
    env: serviceEnv(port, { LOG_LEVEL: "info" }),
  });
  if (which === "kit") port = Number((await server.waitFor((l) => l.event === "ready", 30_000)).port);
  await waitForServing(port, 30_000);
  const config: LoadConfig = {
    target: `127.0.0.1:${port}`,
    api,
    mode: "closed",
    connections: 4,
    concurrency: 100,
    warmupMs: 1000,
    durationMs: seconds * 1000,
    maxRequests: 5_000_000,
  };
  const loader = startFixture("grpc-load", [JSON.stringify(config)], {
    prefix: pinning.load,
  });
  const line = await loader.waitFor((l) => l.event === "result", seconds * 1000 + 60_000);
  await loader.stop();
  const load = line.result as LoadResult;
  await server.stop(30_000);
  const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile written in ${profileDir} (did the server exit cleanly?)`);
  const s = summarise(JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile);
  const pct = (value: number): string => `${((value / s.busyMs) * 100).toFixed(1)} %`;
  const lines = [
    `# CPU profile of ${which === "kit" ? "the kit full stack (bench/fixtures/kit-stack-server.ts)" : "the Recommendations service"} under load (${api} Recommend)`,
    "",
    `${new Date().toISOString()}; services from ${cmd.runtime}; ${pinning.note} Load: closed loop, ${config.connections} connections × ${config.concurrency} in flight, ${seconds} s: ${Math.round(load.throughput)} req/s, ${load.errors} errors.`,
    `Profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy. Window: first to last sample with a call being handled; percentages are of busy (non-idle) time in it. Raw profile: bench/results/tmp/${profileDir.split("/").pop()}/${file}`,
    "",
    "## By area",
    "",
    "| area | self | inclusive (on the stack) |",
    "| --- | ---: | ---: |",
    ...[...s.selfByArea]
      .filter(([area]) => area !== "idle" && area !== "(root)")
      .sort((a, b) => b[1] - a[1])
      .map(([area, self]) => `| ${area} | ${pct(self)} | ${pct(s.inclusiveByArea.get(area) ?? 0)} |`),
    "",
    "## Kit functions, inclusive",
    "",
    "| function | inclusive |",
    "| --- | ---: |",
    ...s.kitInclusive.map((f) => `| \`${f.name}\` | ${pct(f.ms)} |`),
    "",
    "## Top functions by self time",
    "",
    "| function | self |",
    "| --- | ---: |",
    ...s.topSelf.map((f) => `| \`${f.name}\` | ${pct(f.ms)} |`),
    "",
  ];
  writeFileSync(join(repoRoot, "bench", "results", "profile.md"), lines.join("\n"));
  process.stdout.write(`${lines.join("\n")}\n`);
  if (process.env.PROFILE_KEEP !== "1") {
    // The summary is the product; keep only the newest raw profile around.
    for (const old of readdirSync(join(repoRoot, "bench", "results", "tmp"))) {
      if (old.startsWith("profile-") && !profileDir.endsWith(old)) {
        rmSync(join(repoRoot, "bench", "results", "tmp", old), { recursive: true, force: true });
      }
    }
  }
  process.exit(0);
}
