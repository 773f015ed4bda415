// Dockerfiles, .dockerignore and the compose files, checked without a Docker engine: parsed with
// dockerfile-ast / the Compose schema and held to our rules, and broken copies shown to fail.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { serviceNodeFlags } from "../scripts/service-node-flags.mjs";
import { DEPLOYABLES } from "./generate.mjs";
import { checkCompose, checkComposeMtls, mergeCompose, parseCompose } from "./tests/compose-policy.js";
import {
  checkDockerfile,
  checkDockerignore,
  type DockerfileExpectations,
  packageRuntimeFiles,
} from "./tests/dockerfile-policy.js";
import { isObject, type JsonObject } from "./tests/strategic-merge.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const read = (path: string): string => readFileSync(join(repoRoot, path), "utf8");

// Both images ship the kit's dist; packages/protos' run-time file (the descriptor set) is copied
// explicitly, and its other URL (protosRoot) is for code generators in tests.
const shipped = ["packages/kit"];
// Every deployable's image, written by deploy/generate.mjs from its table.
const images: Record<string, DockerfileExpectations> = Object.fromEntries(
  DEPLOYABLES.map((d) => [
    d.name,
    { repoRoot, serviceDir: `services/${d.name}`, ports: [d.port, d.metricsPort], packages: shipped },
  ]),
);
const DASHBOARD_ASSETS = "packages/kit/src/observability/dashboard/assets";

describe("Dockerfiles", () => {
  for (const [name, expect] of Object.entries(images)) {
    const text = read(`${expect.serviceDir}/Dockerfile`);

    test(`${name}: follows every rule`, () => {
      assert.deepEqual(checkDockerfile(text, expect), []);
    });

    test(`${name}: the runtime stage runs node directly on the bundle dist/main.bundle.js, with the services' node flags`, () => {
      const flags = serviceNodeFlags(name);
      const exec = JSON.stringify(["node", ...flags, "dist/main.bundle.js"]).replaceAll(",", ", ");
      assert.ok(text.split("\n").includes(`CMD ${exec}`), `expected the line CMD ${exec}`);
    });

    test(`${name}: the build stage has the bundler the service's build script runs`, () => {
      const pkg = JSON.parse(read(`${expect.serviceDir}/package.json`)) as { scripts: Record<string, string> };
      assert.match(pkg.scripts.build ?? "", /node \.\.\/\.\.\/scripts\/bundle\.mjs \./);
      assert.match(text, /^COPY scripts\/bundle\.mjs scripts\/$/m);
    });

    const breakages: [string, string, (t: string) => string][] = [
      [
        "multi-stage",
        "single stage",
        (t) => `FROM node:26.10.0-bookworm-slim\n${t.slice(t.lastIndexOf("ENV NODE_ENV"))}`,
      ],
      ["pinned-base", "floating tag", (t) => t.replace("ARG NODE_VERSION=26.10.0", "ARG NODE_VERSION=26")],
      ["current-lts", "an older LTS line", (t) => t.replace("ARG NODE_VERSION=26.10.0", "ARG NODE_VERSION=24.21.0")],
      ["pinned-base", "latest", (t) => t.replace(/node:\$\{NODE_VERSION\}-bookworm-slim/g, "node:latest")],
      ["non-root", "no USER", (t) => t.replace("USER 1000:1000", "")],
      ["non-root", "named user", (t) => t.replace("USER 1000:1000", "USER node")],
      ["non-root", "root", (t) => t.replace("USER 1000:1000", "USER 0")],
      [
        "no-secrets",
        "certificates copied in",
        (t) => t.replace("USER 1000:1000", "COPY certs/ /app/certs/\nUSER 1000:1000"),
      ],
      [
        "no-secrets",
        "secret in ENV",
        (t) => t.replace("ENV NODE_ENV=production", "ENV NODE_ENV=production DB_PASSWORD=x"),
      ],
      ["exec-form", "shell-form CMD", (t) => t.replace(/^CMD .*$/m, "CMD node dist/main.bundle.js")],
      ["exec-form", "npm start", (t) => t.replace(/^CMD .*$/m, 'CMD ["npm", "start"]')],
      ["node-env", "no NODE_ENV", (t) => t.replace("ENV NODE_ENV=production", "")],
      ["expose", "wrong port", (t) => t.replace(/^EXPOSE .*$/m, "EXPOSE 8080")],
      ["copy-sources", "missing source", (t) => t.replace("COPY protos protos", "COPY protobufs protobufs")],
      ["runtime-files", "data left behind", (t) => t.replace(/^COPY services\/recommendations\/data .*$/m, "")],
      ["runtime-files", "dashboard assets left behind", (t) => t.replace(/^COPY .*dashboard\/assets .*$/m, "")],
    ];
    for (const [rule, what, breakIt] of breakages) {
      if (what === "data left behind" && name !== "recommendations") continue;
      test(`${name}: rule ${rule} fails on: ${what}`, () => {
        const broken = breakIt(text);
        assert.notEqual(broken, text, "the breakage changed the file");
        const found = checkDockerfile(broken, expect);
        assert.ok(
          found.some((v) => v.rule === rule),
          `expected ${rule}, got ${JSON.stringify(found)}`,
        );
      });
    }
  }

  test("the kit's run-time files are found where its dist code looks for them", () => {
    // create-dashboard.js, in dist/observability/dashboard/, reads ../../../src/observability/dashboard/assets/.
    assert.ok(packageRuntimeFiles(repoRoot, "packages/kit").includes(DASHBOARD_ASSETS));
    for (const asset of ["app.js", "app.css"]) {
      assert.ok(existsSync(join(repoRoot, DASHBOARD_ASSETS, asset)), `${asset} is in ${DASHBOARD_ASSETS}`);
    }
  });

  test(".dockerignore keeps dependencies, builds, certificates and git out of the context", () => {
    const text = read(".dockerignore");
    assert.deepEqual(checkDockerignore(text), []);
    for (const entry of ["certs", "**/node_modules", ".git"]) {
      const broken = text.replace(new RegExp(`^${entry.replace(/[*.]/g, "\\$&")}$`, "m"), "");
      assert.ok(checkDockerignore(broken).length > 0, `removing ${entry} is reported`);
    }
  });
});

describe("compose", () => {
  const base = parseCompose(read("compose.yaml"), "compose.yaml");
  const mtls = parseCompose(read("compose.mtls.yaml"), "compose.mtls.yaml");
  const expect = {
    publicService: "marketplace",
    publishing: ["marketplace", "gateway"],
    backends: ["recommendations", "catalog", "inventory", "accounts", "reviews", "cart", "orders", "payments"],
  };
  const service = (file: JsonObject, name: string): JsonObject => {
    const s = isObject(file.services) ? file.services[name] : undefined;
    assert.ok(isObject(s), `service ${name}`);
    return s;
  };

  test("both files are valid Compose files", () => {
    assert.deepEqual(base.errors, []);
    assert.deepEqual(mtls.errors, []);
    assert.ok(parseCompose("services:\n  x:\n    image: a\n    portz: ['1:1']\n", "typo").errors.length > 0);
  });

  test("compose.yaml follows every rule", () => {
    assert.deepEqual(checkCompose(base.file, expect), []);
  });

  test("the mtls override mounts each service's own certificate read-only", () => {
    const merged = mergeCompose(base.file, mtls.file);
    assert.deepEqual(checkComposeMtls(merged), []);
    assert.deepEqual(checkCompose(merged, expect), []);
    assert.ok(checkComposeMtls(base.file).length > 0, "without the override, TLS is off");
  });

  const breakages: [string, string, (f: JsonObject) => void][] = [
    ["ports", "backend published", (f) => (service(f, "recommendations").ports = ["50051:50051"])],
    ["ports", "published port is not PORT", (f) => (service(f, "marketplace").ports = ["127.0.0.1:5000:8080"])],
    [
      "ports",
      "client dials the wrong port",
      (f) =>
        ((service(f, "marketplace").environment as JsonObject).RECOMMENDATIONS_ADDRESS = "dns:///recommendations:5000"),
    ],
    [
      "ports",
      "admin port published on every interface",
      (f) => (service(f, "marketplace").ports = ["127.0.0.1:5000:5000", "9465:9465"]),
    ],
    [
      "ports",
      "dashboard scrapes the gRPC port",
      (f) =>
        ((service(f, "marketplace").environment as JsonObject).RECOMMENDATIONS_METRICS_URL =
          "http://recommendations:50051/metrics"),
    ],
    [
      "secrets",
      "COOKIE_SECRET written in the file",
      (f) => ((service(f, "marketplace").environment as JsonObject).COOKIE_SECRET = "0123456789abcdef0123456789abcdef"),
    ],
    ["healthcheck", "no healthcheck", (f) => delete service(f, "recommendations").healthcheck],
    ["depends-on", "plain depends_on", (f) => (service(f, "marketplace").depends_on = ["recommendations"])],
    ["graceful-shutdown", "default stop grace", (f) => delete service(f, "recommendations").stop_grace_period],
    ["init", "no init", (f) => delete service(f, "marketplace").init],
  ];
  for (const [rule, what, breakIt] of breakages) {
    test(`rule ${rule} fails on: ${what}`, () => {
      const broken = structuredClone(base.file);
      breakIt(broken);
      assert.ok(checkCompose(broken, expect).some((v) => v.rule === rule));
    });
  }

  test("the mtls rules fail when the plaintext health check has no HEALTH_PORT to ask", () => {
    const merged = mergeCompose(base.file, mtls.file);
    const env = service(merged, "recommendations").environment as JsonObject;
    assert.equal(env.HEALTH_PORT, "50052");
    delete env.HEALTH_PORT;
    assert.match(
      checkComposeMtls(merged)
        .map((v) => v.message)
        .join("\n"),
      /set HEALTH_PORT/,
    );
    env.HEALTH_PORT = env.PORT ?? null;
    assert.match(
      checkComposeMtls(merged)
        .map((v) => v.message)
        .join("\n"),
      /set HEALTH_PORT/,
    );
  });

  test("the mtls rules fail on a writable mount, a foreign key and the CA key", () => {
    const merged = mergeCompose(base.file, mtls.file);
    for (const breakIt of [
      (m: JsonObject) => (m.read_only = false),
      (m: JsonObject) => (m.source = "./certs/marketplace.key"),
      (m: JsonObject) => (m.source = "./certs/ca.key"),
    ]) {
      const broken = structuredClone(merged);
      const volumes = service(broken, "recommendations").volumes;
      assert.ok(Array.isArray(volumes) && isObject(volumes[1]));
      breakIt(volumes[1]);
      assert.ok(checkComposeMtls(broken).length > 0);
    }
  });
});
