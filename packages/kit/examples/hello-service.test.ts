// The README's "Write a new service" example must stay true: the code block in README.md is this
// folder's hello-service.ts verbatim, and that file runs as a real service.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ClientError, createClient } from "@obfy/kit";
import { dummyV1 } from "@obfy/protos";

const examplePath = fileURLToPath(new URL("./hello-service.ts", import.meta.url));
const readmePath = fileURLToPath(new URL("../../../README.md", import.meta.url));

test("README shows hello-service.ts verbatim", async () => {
  const [readme, example] = await Promise.all([readFile(readmePath, "utf8"), readFile(examplePath, "utf8")]);
  assert.ok(
    readme.includes(`\`\`\`ts\n${example}\`\`\``),
    "README.md's example differs from packages/kit/examples/hello-service.ts",
  );
});

test("the example service serves all four kinds, maps errors, and drains on SIGTERM", async (t) => {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", examplePath], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "json", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines = createInterface({ input: child.stdout });
  let port: number | undefined;
  for await (const line of lines) {
    const record = JSON.parse(line) as { msg?: string; port?: number };
    if (record.msg === "gRPC server listening") {
      port = record.port;
      break;
    }
  }
  assert.ok(port, "the example never logged that it listens");
  const exited = once(child, "exit");
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout.resume();

  const client = createClient(dummyV1.DummyServiceService, `127.0.0.1:${port}`, { defaultTimeoutMs: 5000 });
  t.after(() => client.close());
  assert.equal((await client.execute({ input: "hello" })).output, "hello");
  const streamed: string[] = [];
  for await (const response of client.executeServerStream({ input: "abc" })) streamed.push(response.output);
  assert.deepEqual(streamed, ["a", "b", "c"]);
  async function* inputs() {
    yield { input: "x" };
    yield { input: "y" };
  }
  assert.equal((await client.executeClientStream(inputs())).output, "xy");
  const echoed: string[] = [];
  for await (const response of client.executeClientServerStream(inputs())) echoed.push(response.output);
  assert.deepEqual(echoed, ["x", "y"]);
  await assert.rejects(client.execute({ input: "" }), (error: unknown) => {
    assert.ok(error instanceof ClientError);
    assert.equal(error.codeName, "INVALID_ARGUMENT");
    assert.equal(error.details, "input must not be empty");
    return true;
  });

  child.kill("SIGTERM");
  const [code, signal] = await exited;
  assert.equal(signal, null);
  assert.equal(code, 0);
});
