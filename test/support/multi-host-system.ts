// The multi-host system under test, started on a network-namespace lab: N Recommendations
// replicas, each on its own "host", and the Marketplace on another, which finds them all through
// ONE name (`recommendations`, resolving to every replica, as a headless Kubernetes Service or a
// DNS round-robin record would). Teardown is registered before anything starts, so a failure
// half-way still stops every process and removes the lab.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient, createLogger } from "@obfy/kit";
import { UNAVAILABLE_NOTICE } from "@obfy/marketplace";
import { healthV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./logged-process.js";
import { createNetnsLab, type NetnsLab } from "./netns.js";
import { logRecords } from "./pages.js";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Port every replica listens on (each host has its own address, so they can share it). */
export const RECOMMENDATIONS_PORT = 50051;
/** Port of the Marketplace on its host. */
export const MARKETPLACE_PORT = 5000;
/** Lab host name of the Marketplace. */
const MARKETPLACE_HOST = "mkt";

/** Options of {@link startMultiHostSystem}. */
export interface MultiHostSystemOptions {
  /** Lab host names of the replicas (1-4 lowercase letters/digits each), e.g. `["r1", "r2", "r3"]`. */
  readonly replicas: readonly string[];
  /** Extra environment of every replica. */
  readonly replicaEnv?: NodeJS.ProcessEnv;
  /** Extra environment of the Marketplace. */
  readonly marketplaceEnv?: NodeJS.ProcessEnv;
  /** Start-up budget per process: tsx compiles the sources on a small, busy CI machine. */
  readonly startupTimeoutMs: number;
  /** Per-request timeout of the readiness fetches. */
  readonly requestTimeoutMs: number;
}

/** A started system; see {@link startMultiHostSystem}. */
export interface MultiHostSystem {
  readonly lab: NetnsLab;
  /** The replicas' processes, in the order of {@link MultiHostSystemOptions.replicas}. */
  readonly replicas: readonly LoggedProcess[];
  readonly marketplace: LoggedProcess;
  /** The Marketplace's origin as the test process reaches it, e.g. `http://10.203.5.10:5000`. */
  readonly origin: string;
}

/**
 * `ok` for a homepage whose "Recommended for you" section lists books; `degraded` for one showing
 * the unavailable notice there (or no list). Only Recommendations runs in these labs, so the
 * Catalog's sections are always degraded and are not what the tests look at.
 */
export function classifyPage(body: string): "ok" | "degraded" {
  const start = body.indexOf('id="recommended-heading"');
  if (start < 0) return "degraded";
  const section = body.slice(start, body.indexOf("</section>", start));
  return !section.includes(UNAVAILABLE_NOTICE) && /<li[\s>]/.test(section) ? "ok" : "degraded";
}

/** Successful recommendation calls a replica has logged (one JSON line per call, from the kit's logging interceptor). */
export function recommendCalls(replica: LoggedProcess): number {
  return logRecords(replica.lines).filter(
    (r) => /RecommendationsService\/Recommend(ForShopper)?$/.test(String(r.method)) && r.grpc_code === "OK",
  ).length;
}

/** Waits until the replica's gRPC health says SERVING (a Watch stream, so no polling). */
async function waitServing(address: string, timeoutMs: number): Promise<void> {
  const client = createClient(healthV1.HealthService, `ipv4:${address}:${RECOMMENDATIONS_PORT}`, {
    defaultTimeoutMs: timeoutMs,
    logger: createLogger({ name: "multi-host-test", level: "silent" }),
  });
  try {
    await client.waitForReady(Date.now() + timeoutMs);
    for await (const update of client.watch(healthV1.HealthCheckRequest.fromPartial({ service: "" }))) {
      if (update.status === healthV1.HealthCheckResponse_ServingStatus.SERVING) return;
    }
    throw new Error(`health watch on ${address} ended before SERVING`);
  } finally {
    client.close();
  }
}

/**
 * Fetches `url` until the homepage shows books. The channel to Recommendations connects on first
 * use, so there is no earlier signal to wait for; the retry interval is short and bounded.
 */
export async function waitForBooks(url: string, timeoutMs: number, requestTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const response = await fetch(url, { signal: AbortSignal.timeout(requestTimeoutMs) });
    last = await response.text();
    if (response.status === 200 && classifyPage(last) === "ok") return;
    await delay(200);
  }
  throw new Error(`the homepage never showed books within ${timeoutMs} ms; last page:\n${last}`);
}

/**
 * Builds the lab (`mkt` plus one host per replica), starts every replica and the Marketplace in
 * their hosts, and resolves once each replica's health is SERVING and the Marketplace is ready.
 * Teardown runs in `t.after`: processes first (a namespace with processes outlives `ip netns del`),
 * then, with `MULTI_HOST_LOG_DIR` set, every process's output is written there for a post-mortem
 * (e.g. with `GRPC_TRACE` set), then the lab is destroyed and must leave nothing behind.
 */
export async function startMultiHostSystem(t: TestContext, options: MultiHostSystemOptions): Promise<MultiHostSystem> {
  const processes = new Map<string, LoggedProcess>();
  let lab: NetnsLab | undefined;
  t.after(async () => {
    await Promise.all([...processes.values()].map((p) => p.stop()));
    const logDir = process.env.MULTI_HOST_LOG_DIR;
    if (logDir !== undefined && logDir !== "") {
      await mkdir(logDir, { recursive: true });
      for (const [label, p] of processes) await writeFile(join(logDir, `${label}.log`), `${p.lines.join("\n")}\n`);
      t.diagnostic(`process logs written to ${logDir}`);
    }
    const problems = (await lab?.destroy()) ?? [];
    assert.deepEqual(problems, [], "lab teardown left something behind");
  });

  lab = await createNetnsLab({ hosts: [MARKETPLACE_HOST, ...options.replicas] });
  const current = lab;
  const replicaAddresses = options.replicas.map((name) => current.host(name).address);
  const marketplaceHost = lab.host(MARKETPLACE_HOST);
  t.diagnostic(
    `lab ${lab.subnet}: marketplace ${marketplaceHost.namespace} ${marketplaceHost.address}, ` +
      options.replicas.map((name) => `${current.host(name).namespace} ${current.host(name).address}`).join(", ") +
      `, test process ${lab.rootAddress}`,
  );

  // ONE name for all replicas, in the Marketplace host's own /etc/hosts (no DNS server needed).
  await lab.writeHostsFile(
    MARKETPLACE_HOST,
    ["127.0.0.1 localhost", "::1 localhost", ...replicaAddresses.map((a) => `${a} recommendations`), ""].join("\n"),
  );
  // grpc-js's dns resolver asks dns.lookup(all: true); check that it sees every replica there.
  const [ipCommand, ...ipArgs] = lab.execPrefix(MARKETPLACE_HOST);
  const lookup = await run(
    ipCommand,
    [
      ...ipArgs,
      process.execPath,
      "-e",
      "require('node:dns').lookup('recommendations', { all: true }, (e, a) => { if (e) throw e; console.log(JSON.stringify(a.map((x) => x.address))); })",
    ],
    { timeout: 20_000 },
  );
  const resolved = (JSON.parse(lookup.stdout) as string[]).sort();
  assert.deepEqual(resolved, [...replicaAddresses].sort(), "`recommendations` resolves to every replica");

  const baseEnv = { ...process.env, LOG_FORMAT: "json", LOG_LEVEL: "info" };
  const node = [process.execPath, "--conditions=source", "--import", "tsx"];
  /** Starts `script` with node inside lab host `host` (`ip netns exec` then execs node: same pid). */
  const startIn = (host: string, script: string, env: NodeJS.ProcessEnv): LoggedProcess => {
    const [command, ...args] = current.execPrefix(host);
    const child = spawnLogged(command, [...args, ...node, script], { cwd: repoRoot, env: { ...baseEnv, ...env } });
    processes.set(host === MARKETPLACE_HOST ? "marketplace" : host, child);
    return child;
  };
  const replicas = options.replicas.map((name) =>
    startIn(name, "services/recommendations/src/main.ts", {
      HOST: "0.0.0.0",
      PORT: String(RECOMMENDATIONS_PORT),
      ...options.replicaEnv,
    }),
  );
  const marketplace = startIn(MARKETPLACE_HOST, "services/marketplace/src/main.ts", {
    HOST: "0.0.0.0",
    PORT: String(MARKETPLACE_PORT),
    RECOMMENDATIONS_ADDRESS: `dns:///recommendations:${RECOMMENDATIONS_PORT}`,
    ...options.marketplaceEnv,
  });

  await Promise.all(replicaAddresses.map((address) => waitServing(address, options.startupTimeoutMs)));
  await marketplace.waitForLine(/"msg":"Marketplace ready"/, options.startupTimeoutMs);
  const ready = logRecords(marketplace.lines).find((r) => r.msg === "Marketplace ready");
  assert.equal(
    (ready?.services as Record<string, string> | undefined)?.recommendations,
    `dns:///recommendations:${RECOMMENDATIONS_PORT}`,
    "one target for every replica",
  );
  const origin = `http://${marketplaceHost.address}:${MARKETPLACE_PORT}`;
  const readyz = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(options.requestTimeoutMs) });
  assert.equal(readyz.status, 200, await readyz.text());
  return { lab, replicas, marketplace, origin };
}
