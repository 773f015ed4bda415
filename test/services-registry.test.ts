// scripts/services.mjs, the registry `npm start` runs from, against services/ and itself.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { serviceNodeFlags } from "../scripts/service-node-flags.mjs";
import { BUS_DATABASE, SERVICES, variablePrefix } from "../scripts/services.mjs";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

it("lists every deployable under services/ once, with ports of its own", () => {
  const folders = readdirSync(join(repoRoot, "services")).filter((name) =>
    existsSync(join(repoRoot, "services", name, "package.json")),
  );
  assert.deepEqual(SERVICES.map((s) => s.name).sort(), folders.sort());
  const ports = SERVICES.flatMap((s) => [s.port, s.metricsPort]);
  assert.equal(new Set(ports).size, ports.length, `ports used twice: ${ports}`);
  for (const service of SERVICES) {
    assert.match(service.name, /^[a-z][a-z0-9_]*$/, "a service's name is also its database's and role's");
    assert.notEqual(service.name, BUS_DATABASE);
    assert.ok(service.protocol === "grpc" || service.protocol === "http", service.name);
    assert.doesNotThrow(
      () => serviceNodeFlags(service.name as Parameters<typeof serviceNodeFlags>[0]),
      "each has its node flags (scripts/service-node-flags.mjs)",
    );
  }
  assert.equal(SERVICES.filter((s) => s.open !== undefined).length, 1, "one web front to open");
  assert.equal(variablePrefix("order-history"), "ORDER_HISTORY");
});
