import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { protosRoot } from "@obfy/protos";
import pino from "pino";
import { readServerConfig } from "../config.js";
import { createServer } from "../server/create-server.js";
import { createDummyService } from "./dummy-client.js";

const PYTHON = "/usr/bin/python3";
const client = fileURLToPath(new URL("./python/interop_client.py", import.meta.url));
const reflectionProtos = join(
  dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")),
  "build",
  "proto",
  "grpc",
  "reflection",
);

/**
 * Generates Python stubs for health and reflection. The files are copied to flat names first:
 * generated `grpc/...` packages would collide with grpcio's own `grpc` package.
 */
async function generateStubs(dir: string): Promise<void> {
  copyFileSync(join(protosRoot, "grpc", "health", "v1", "health.proto"), join(dir, "health_v1.proto"));
  copyFileSync(join(reflectionProtos, "v1", "reflection.proto"), join(dir, "reflection_v1.proto"));
  copyFileSync(join(reflectionProtos, "v1alpha", "reflection.proto"), join(dir, "reflection_v1alpha.proto"));
  await promisify(execFile)(PYTHON, [
    "-m",
    "grpc_tools.protoc",
    `-I${dir}`,
    `--python_out=${dir}`,
    `--grpc_python_out=${dir}`,
    "health_v1.proto",
    "reflection_v1.proto",
    "reflection_v1alpha.proto",
  ]);
}

type Event = Record<string, unknown> & { event: string };

describe("Python grpcio interop", () => {
  it("health Check/Watch, reflection v1/v1alpha and a reflection-built Dummy stub", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "kit-py-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await generateStubs(dir);

    const server = createServer({
      services: [createDummyService()],
      config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 5, reflection: true }),
      logger: pino({ level: "silent" }),
    });
    t.after(() => server.shutdown());
    const { port } = await server.listen();

    const child = spawn(PYTHON, [client, `127.0.0.1:${port}`, dir], { stdio: ["ignore", "pipe", "pipe"] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const events: Event[] = [];
    const exited = once(child, "exit");
    let shutdown: Promise<void> | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as Event;
      events.push(event);
      // Python now watches health: drain the server and let it see NOT_SERVING.
      if (event.event === "watching") shutdown = server.shutdown();
    }
    const [code] = await exited;
    assert.equal(code, 0, `python failed: ${stderr}`);
    await shutdown;

    const find = (name: string, extra: Partial<Event> = {}): Event | undefined =>
      events.find((e) => e.event === name && Object.entries(extra).every(([k, v]) => e[k] === v));
    assert.equal(find("check", { service: "" })?.status, "SERVING");
    assert.equal(find("check", { service: "kit.testing.v1.DummyService" })?.status, "SERVING");
    const expected = [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "kit.testing.v1.DummyService",
    ];
    assert.deepEqual(find("services", { version: "v1" })?.names, expected);
    assert.deepEqual(find("services", { version: "v1alpha" })?.names, expected);
    assert.ok((find("files")?.names as string[] | undefined)?.includes("kit/testing/v1/dummy.proto"));
    assert.equal(find("execute")?.output, "hello from python");
    const watch = find("watch");
    assert.deepEqual(watch?.statuses, ["SERVING", "NOT_SERVING"]);
    assert.equal(watch?.end_code, "UNAVAILABLE");
  });
});
