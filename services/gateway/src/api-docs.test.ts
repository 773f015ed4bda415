// docs/api.md's examples, run: every `sh` block with curl against a gateway in front of the
// Webhooks service (real, on PostgreSQL and the pg-boss bus) and stand-ins for the services not
// in main yet; the `json` block after it is the shape of the output. Strings in it are compared
// exactly unless they contain "…" (then only their type), numbers exactly except those that
// change between runs (expires_in), objects by the keys shown, arrays by the items shown.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { type RunningService, startService } from "@obfy/kit/service";
import { signatureHeader, webhooksService } from "@obfy/webhooks";
import { type GatewayHarness, PARTNER, startGatewayHarness } from "./fixtures/gateway-harness.js";

const run = promisify(execFile);
const doc = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8");
const VARIES = new Set(["expires_in"]);

function matchesShape(expected: unknown, actual: unknown, path: string, key = ""): string[] {
  if (typeof expected === "string") {
    if (typeof actual !== "string") return [`${path}: expected a string, got ${JSON.stringify(actual)}`];
    return expected.includes("…") || expected === actual ? [] : [`${path}: expected ${expected}, got ${actual}`];
  }
  if (typeof expected === "number") {
    if (typeof actual !== "number") return [`${path}: expected a number, got ${JSON.stringify(actual)}`];
    return VARIES.has(key) || expected === actual ? [] : [`${path}: expected ${expected}, got ${actual}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length < expected.length)
      return [`${path}: expected at least ${expected.length} items`];
    return expected.flatMap((item, i) => matchesShape(item, actual[i], `${path}[${i}]`));
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null) return [`${path}: expected an object`];
    return Object.entries(expected).flatMap(([k, v]) =>
      k in actual
        ? matchesShape(v, (actual as Record<string, unknown>)[k], `${path}.${k}`, k)
        : [`${path}.${k} missing`],
    );
  }
  return expected === actual ? [] : [`${path}: expected ${JSON.stringify(expected)}`];
}

const examples = [...doc.matchAll(/```sh\n([\s\S]*?)```\s*\n+```json\n([\s\S]*?)```/g)].map((m) => ({
  script: m[1] ?? "",
  expected: JSON.parse(m[2] ?? "null") as unknown,
}));

describe("docs/api.md", () => {
  let h: GatewayHarness;
  let webhooks: RunningService<unknown>;
  let databases: TestDatabase[];
  let env: Record<string, string>;
  let receiver: import("node:http").Server;

  before(async () => {
    const identity = await createTestIdentity();
    databases = await Promise.all([createTestDatabase(), createTestDatabase()]);
    const [own, bus] = databases as [TestDatabase, TestDatabase];
    webhooks = (await startService(webhooksService, {
      logger: createLogger({ name: "webhooks", level: "silent" }),
      env: {
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        WEBHOOKS_ALLOWED_HOSTS: "127.0.0.1",
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "off",
        LOG_LEVEL: "silent",
        DATABASE_CONNECT_TIMEOUT_MS: "15000",
        ...identity.env,
      },
    })) as RunningService<unknown>;
    h = await startGatewayHarness({ identity, env: { WEBHOOKS_ADDRESS: `127.0.0.1:${webhooks.port}` } });
    const { createServer } = await import("node:http");
    receiver = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    const token = await identity.token({ subject: "acc-docs", expiresInSeconds: 3600 });
    env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      API: h.url,
      TOKEN: token,
      CLIENT_ID: PARTNER.clientId,
      CLIENT_SECRET: PARTNER.clientSecret,
      ORDER_ID: h.standIns.addOrder("acc-docs"),
      RECEIVER: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
    };
  });
  after(async () => {
    receiver?.closeAllConnections();
    receiver?.close();
    await h?.stop();
    await webhooks?.stop();
    await Promise.all((databases ?? []).map((d) => d.drop()));
  });

  test("has examples to run", () => {
    assert.ok(examples.length >= 10, `${examples.length} examples`);
  });

  for (const [i, example] of examples.entries()) {
    test(`example ${i + 1}: ${example.script.split("\n").at(-2)?.trim().slice(0, 80)}`, async () => {
      const { stdout } = await run("/bin/sh", ["-ec", example.script], { env, timeout: 20_000 });
      const lines = stdout.trim().split("\n");
      const output = JSON.parse(lines.at(-1) ?? "null") as unknown;
      assert.deepEqual(matchesShape(example.expected, output, "$"), [], stdout);
    });
  }

  test("the verification snippet accepts the service's signatures and refuses a changed body", async () => {
    const snippet = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(snippet !== undefined);
    const file = join(tmpdir(), `verify-webhook-${process.pid}.mjs`);
    writeFileSync(file, snippet);
    const { verifyWebhook } = (await import(file)) as {
      verifyWebhook: (secret: string, header: string, body: string) => boolean;
    };
    const secret = "whsec_test";
    const body = '{"id":"e1","type":"order.placed"}';
    const header = signatureHeader(secret, Math.floor(Date.now() / 1000), body);
    assert.equal(verifyWebhook(secret, header, body), true);
    assert.equal(verifyWebhook(secret, header, `${body} `), false);
  });
});
