import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import { parsePrometheusText, sumSamples } from "../observability/prometheus-text.js";
import type { ClusterEvent } from "./run-cluster.js";
import { readWorkers } from "./workers-config.js";

const fixture = fileURLToPath(new URL("./fixtures/dummy-cluster.ts", import.meta.url));

type FixtureLine =
  | ClusterEvent
  | { type: "cluster-ready"; port: number; metricsUrl: string; pids: number[] }
  | { type: "not-ready"; reason: string };

interface RunningCluster {
  readonly child: ChildProcess;
  readonly lines: FixtureLine[];
  readonly port: number;
  readonly metricsUrl: string;
  readonly pids: number[];
  waitFor(predicate: (line: FixtureLine) => boolean, timeoutMs?: number): Promise<FixtureLine>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the fixture cluster and waits for every worker to serve (or for `until`); cleans up after the test. */
async function startCluster(
  t: TestContext,
  workers: number,
  env: Record<string, string> = {},
  until: (line: FixtureLine) => boolean = (line) => line.type === "cluster-ready",
): Promise<RunningCluster> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fixture], {
    env: { ...process.env, WORKERS: String(workers), LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const lines: FixtureLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    lines.push(JSON.parse(text) as FixtureLine);
    for (const wake of waiters) wake();
  });
  const workerPids = new Set<number>();
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    // The workers exit by themselves when the primary's IPC channel goes; make sure of it.
    for (const line of lines) if (line.type === "worker-ready") workerPids.add(line.pid);
    for (const pid of workerPids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone: what we want.
      }
    }
  });
  const waitFor = (predicate: (line: FixtureLine) => boolean, timeoutMs = 30_000): Promise<FixtureLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find(predicate);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for a cluster line; got ${JSON.stringify(lines)}; stderr: ${stderr}`));
      }, timeoutMs);
      const onExit = (): void => {
        if (check()) return;
        cleanup();
        reject(new Error(`cluster exited early; lines ${JSON.stringify(lines)}; stderr: ${stderr}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        child.off("exit", onExit);
      };
      const wake = (): void => {
        check();
      };
      if (check()) return;
      waiters.add(wake);
      child.once("exit", onExit);
    });
  const ready = await waitFor(until);
  if (ready.type !== "cluster-ready") return { child, lines, port: 0, metricsUrl: "", pids: [], waitFor, exited };
  return { child, lines, port: ready.port, metricsUrl: ready.metricsUrl, pids: ready.pids, waitFor, exited };
}

/** A client with its own connection (no subchannel sharing), so the cluster may give it to another worker. */
function connect(t: TestContext, port: number): dummyV1.DummyServiceClient {
  const client = new dummyV1.DummyServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
  t.after(() => client.close());
  return client;
}

function execute(client: dummyV1.DummyServiceClient, input: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.execute({ input }, new Metadata(), { deadline: Date.now() + 20_000 }, (error, response) =>
      error ? reject(error) : resolve(Number(response.output)),
    );
  });
}

/** One client connected to each worker (connections are handed out round-robin). */
async function clientPerWorker(
  t: TestContext,
  cluster: RunningCluster,
): Promise<{ byPid: Map<number, dummyV1.DummyServiceClient>; calls: number }> {
  const byPid = new Map<number, dummyV1.DummyServiceClient>();
  let calls = 0;
  for (; calls < 16 && byPid.size < cluster.pids.length; calls++) {
    const client = connect(t, cluster.port);
    const pid = await execute(client, "which worker?");
    if (!byPid.has(pid)) byPid.set(pid, client);
  }
  return { byPid, calls };
}

/** The value of one sample of the primary's aggregated /metrics. */
async function metricValue(cluster: RunningCluster, name: string, labels: Record<string, string>): Promise<number> {
  const response = await fetch(`${cluster.metricsUrl}/metrics`);
  assert.equal(response.status, 200);
  return sumSamples(parsePrometheusText(await response.text()), name, labels);
}

const executeLabels = { grpc_service: "kit.testing.v1.DummyService", grpc_method: "Execute" };

describe("runCluster with real processes", () => {
  it("runs two workers on one port; both serve calls and the primary aggregates their metrics", async (t) => {
    const cluster = await startCluster(t, 2);
    assert.equal(cluster.pids.length, 2);
    assert.equal(new Set(cluster.pids).size, 2);

    const probes = await clientPerWorker(t, cluster);
    assert.deepEqual(
      [...probes.byPid.keys()].sort(),
      [...cluster.pids].sort(),
      "every worker answered on the shared port",
    );

    // Calls on connections of both workers, counted per pid from the answers.
    const answered = new Map<number, number>();
    const connections = Array.from({ length: 6 }, () => connect(t, cluster.port));
    for (let round = 0; round < 5; round++) {
      const pids = await Promise.all(connections.map((client) => execute(client, `call ${round}`)));
      for (const pid of pids) answered.set(pid, (answered.get(pid) ?? 0) + 1);
    }
    for (const pid of cluster.pids) assert.ok((answered.get(pid) ?? 0) > 0, `worker ${pid} served some of the calls`);
    const total = 30 + probes.calls;

    const handled = await metricValue(cluster, "grpc_server_handled_total", { ...executeLabels, grpc_code: "OK" });
    assert.equal(handled, total, "the aggregated counter is the sum over both workers");
    assert.ok(handled > Math.max(...answered.values()), "more than any single worker handled");
    assert.equal(await metricValue(cluster, "cluster_metrics_workers", { state: "answered" }), 2);

    const health = await fetch(`${cluster.metricsUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "SERVING", workers: 2, target: 2 });
  });

  it("on SIGTERM drains every worker's in-flight calls, ignores a second SIGTERM, and exits 0", async (t) => {
    const cluster = await startCluster(t, 2);
    const clients = (await clientPerWorker(t, cluster)).byPid;
    assert.equal(clients.size, 2);
    const startedBefore = await metricValue(cluster, "grpc_server_started_total", executeLabels);

    const slow = [...clients].map(([pid, client]) => execute(client, "sleep:1500").then((answer) => ({ pid, answer })));
    // Both slow calls are running (counted by the workers) before the signal goes out.
    for (let i = 0; (await metricValue(cluster, "grpc_server_started_total", executeLabels)) < startedBefore + 2; i++) {
      assert.ok(i < 200, "both slow calls started");
      await new Promise((resolve) => setImmediate(resolve));
    }

    assert.ok(cluster.child.kill("SIGTERM"));
    await cluster.waitFor((line) => line.type === "shutdown");
    assert.ok(cluster.child.kill("SIGTERM"), "a second SIGTERM is delivered");

    const finished = await Promise.all(slow);
    for (const { pid, answer } of finished) assert.equal(answer, pid, "each worker finished its own call");

    const { code, signal } = await cluster.exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    const exits = cluster.lines.filter((line) => line.type === "worker-exit");
    assert.equal(exits.length, 2);
    for (const exit of exits) {
      assert.equal(exit.type === "worker-exit" && exit.code, 0);
      assert.equal(exit.type === "worker-exit" && exit.restartInMs, undefined);
    }
  });

  it("restarts a worker that crashes, in the same slot, and keeps serving", async (t) => {
    const cluster = await startCluster(t, 2);
    const victim = cluster.lines.find((line) => line.type === "worker-ready" && line.index === 1);
    assert.ok(victim?.type === "worker-ready");
    process.kill(victim.pid, "SIGKILL");

    const exit = await cluster.waitFor((line) => line.type === "worker-exit" && line.pid === victim.pid);
    assert.ok(exit.type === "worker-exit");
    assert.equal(exit.signal, "SIGKILL");
    assert.equal(typeof exit.restartInMs, "number");
    const restarted = await cluster.waitFor(
      (line) => line.type === "worker-ready" && line.index === 1 && line.pid !== victim.pid,
    );
    assert.ok(restarted.type === "worker-ready");
    assert.equal(restarted.port, cluster.port, "the new worker shares the same port");

    const pids = new Set<number>();
    for (let i = 0; i < 8; i++) pids.add(await execute(connect(t, cluster.port), "after restart"));
    assert.ok(pids.has(restarted.pid), "the restarted worker serves calls");
    assert.ok(!pids.has(victim.pid));

    assert.ok(cluster.child.kill("SIGTERM"));
    assert.equal((await cluster.exited).code, 0);
  });

  it("gives up when a worker keeps crashing: stops the cluster and exits 1", async (t) => {
    const cluster = await startCluster(t, 2, { FIXTURE_FAIL_START: "1", CLUSTER_MAX_CRASHES: "1" }, (line) =>
      ["not-ready", "cluster-ready"].includes(line.type),
    );
    const giveUp = await cluster.waitFor((line) => line.type === "give-up");
    assert.ok(giveUp.type === "give-up");
    assert.equal(giveUp.crashes, 2);
    assert.ok(cluster.lines.some((line) => line.type === "not-ready"));
    assert.ok(!cluster.lines.some((line) => line.type === "worker-ready"));
    const { code } = await cluster.exited;
    assert.equal(code, 1);
  });
});

describe("readWorkers", () => {
  it("defaults to one process, accepts a count or auto, and names WORKERS in errors", () => {
    assert.equal(readWorkers({}), 1);
    assert.equal(readWorkers({ WORKERS: " " }), 1);
    assert.equal(readWorkers({ WORKERS: "4" }), 4);
    assert.equal(readWorkers({ WORKERS: "auto" }), availableParallelism());
    assert.equal(readWorkers({ WORKERS: "AUTO" }), availableParallelism());
    for (const bad of ["0", "-1", "two", "1.5", "257"]) {
      assert.throws(() => readWorkers({ WORKERS: bad }), {
        message: `WORKERS must be a positive integer (1-256) or "auto", got ${JSON.stringify(bad)}`,
      });
    }
  });
});
