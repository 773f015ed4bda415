/**
 * Rules for the services' Dockerfiles and the root .dockerignore, checked on the files as
 * dockerfile-ast parses them (no Docker engine needed). dockerfiles.test.ts runs them on the real
 * files and on broken copies.
 */
import { existsSync, globSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { DockerfileParser, type Instruction, JSONInstruction, ModifiableInstruction } from "dockerfile-ast";

/** One broken rule. */
export interface DockerViolation {
  readonly rule: string;
  readonly message: string;
}

/** What a Dockerfile is checked against. */
export interface DockerfileExpectations {
  /** Repository root (the build context). */
  readonly repoRoot: string;
  /** The service folder, e.g. services/recommendations. */
  readonly serviceDir: string;
  /** Ports the final image must EXPOSE. */
  readonly ports: readonly number[];
  /**
   * Workspace packages whose dist the image ships (e.g. packages/kit): the files their code reads
   * at run time beside dist ({@link packageRuntimeFiles}) must be copied into the final stage too.
   */
  readonly packages?: readonly string[];
}

const ASSET_URL = /new URL\(\s*["'](\.{1,2}\/[^"']*)["']\s*,\s*import\.meta\.url\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fixtures" || entry.name === "gen" ? [] : sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".d.ts")
      ? [path]
      : [];
  });
}

/**
 * Files and folders outside `dist` that a workspace package's built code reads at run time, found
 * where its sources build a path with `new URL("./relative", import.meta.url)` and resolved from
 * the compiled file's place in `dist` (src/a/b.ts runs as dist/a/b.js). Returns repository-relative
 * paths, e.g. packages/kit/src/observability/dashboard/assets for the dashboard's page assets.
 */
export function packageRuntimeFiles(repoRoot: string, packageDir: string): string[] {
  const src = join(repoRoot, packageDir, "src");
  const dist = join(repoRoot, packageDir, "dist");
  const found = new Set<string>();
  for (const file of sourceFiles(src)) {
    const compiledDir = join(dist, relative(src, dirname(file)));
    for (const [, literal] of readFileSync(file, "utf8").matchAll(ASSET_URL)) {
      const target = relative(repoRoot, join(compiledDir, literal ?? ""))
        .split("\\")
        .join("/")
        .replace(/\/$/, "");
      if (!posix.normalize(target).startsWith(`${packageDir}/dist`)) found.add(target);
    }
  }
  return [...found].sort();
}

/**
 * The Node line images must use: the current Active LTS. Node 26 became Active LTS in October 2026
 * (Node 24 is in maintenance). Bump this, the Dockerfiles' NODE_VERSION and docs/deployment.md
 * together when the next line is promoted.
 */
export const CURRENT_NODE_LTS_MAJOR = 26;

const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL/i;
const SECRET_FILE = /(^|\/)certs(\/|$)|\.(pem|key|crt|p12|pfx)$|(^|\/)\.env(\.|$)|id_rsa|id_ed25519/;
/** Entries of a service folder that are sources, dev tooling or build outputs, not runtime files. */
const NOT_RUNTIME =
  /^(src|dist|node_modules|scripts|bench|test|tests|fixtures|package\.json|tsconfig.*\.json|Dockerfile|\.dockerignore|\.gitignore|.*\.md)$/;

/** The flags (`--from=…`) and the plain arguments of an instruction. */
function split(instruction: Instruction): { flags: string[]; args: string[] } {
  // dockerfile-ast keeps flags (COPY --from=…) apart from the arguments.
  const flags = instruction instanceof ModifiableInstruction ? instruction.getFlags().map((f) => f.toString()) : [];
  const args = instruction
    .getArguments()
    .map((a) => a.getValue())
    .filter((a) => !a.startsWith("--"));
  return { flags, args };
}

/** Checks one Dockerfile's text; returns violations (empty when fine). */
export function checkDockerfile(text: string, expect: DockerfileExpectations): DockerViolation[] {
  const out: DockerViolation[] = [];
  const report = (rule: string, message: string): void => {
    out.push({ rule, message });
  };
  const dockerfile = DockerfileParser.parse(text);
  const initialArgs = new Map<string, string>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property !== null) initialArgs.set(property.getName(), property.getValue() ?? "");
  }
  const expand = (value: string): string =>
    value.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => initialArgs.get(name) ?? "");

  // Stages: the instructions from one FROM to the next.
  const stages: { name: string | null; image: string; instructions: Instruction[] }[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === "FROM") {
      const { args } = split(instruction);
      const asIndex = args.findIndex((a) => a.toUpperCase() === "AS");
      stages.push({
        name: asIndex === -1 ? null : (args[asIndex + 1] ?? null),
        image: expand(args[0] ?? ""),
        instructions: [],
      });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  if (stages.length < 2) report("multi-stage", "use a multi-stage build (build tools stay out of the runtime image)");
  const stageNames = new Set(stages.map((s) => s.name).filter((n) => n !== null));

  for (const stage of stages) {
    if (stageNames.has(stage.image)) continue;
    const image = stage.image;
    const digest = /@sha256:[0-9a-f]{64}$/.test(image);
    const tag = /:([^/:@]+)(@|$)/.exec(image)?.[1];
    if (!digest && (tag === undefined || !/^v?\d+\.\d+\.\d+/.test(tag))) {
      report("pinned-base", `FROM ${image}: pin the base image to an exact version (or a digest), never latest`);
    }
    const nodeMajor = /^(?:docker\.io\/)?(?:library\/)?node:v?(\d+)\./.exec(image)?.[1];
    if (nodeMajor !== undefined && Number(nodeMajor) !== CURRENT_NODE_LTS_MAJOR) {
      report(
        "current-lts",
        `FROM ${image}: use the current Node LTS line (${CURRENT_NODE_LTS_MAJOR}); Node ${nodeMajor} is not it`,
      );
    }
  }

  for (const [index, stage] of stages.entries()) {
    for (const instruction of stage.instructions) {
      const keyword = instruction.getKeyword();
      const { flags, args } = split(instruction);
      if (keyword === "COPY" || keyword === "ADD") {
        const sources = args.slice(0, -1);
        for (const source of sources) {
          if (SECRET_FILE.test(source))
            report(
              "no-secrets",
              `${keyword} ${source}: certificates and keys are mounted at run time, never copied in`,
            );
          if (/^https?:\/\//.test(source))
            report("no-remote-add", `${keyword} ${source}: download in a RUN step with a checksum`);
          const fromStage = flags.some((f) => f.startsWith("--from="));
          // A glob source (COPY --parents packages/*/package.json) must match at least one path.
          const found = source.includes("*")
            ? globSync(source, { cwd: expect.repoRoot }).length > 0
            : existsSync(join(expect.repoRoot, source));
          if (!fromStage && !found) {
            report("copy-sources", `${keyword} ${source}: no such path in the build context`);
          }
        }
      }
      if (keyword === "ENV" || keyword === "ARG") {
        for (const a of args) {
          const name = a.split("=")[0] ?? "";
          if (SECRET_NAME.test(name))
            report("no-secrets", `${keyword} ${name}: secrets in ENV/ARG end up in the image history`);
        }
      }
      if (keyword === "RUN" && /\bcurl\b.*\|\s*(ba)?sh/.test(instruction.getRawArgumentsContent() ?? "")) {
        report("no-secrets", "RUN curl | sh: unpinned remote code in the build");
      }
    }
    if (index < stages.length - 1) continue;

    // The runtime stage.
    const runtime = stage.instructions;
    const users = runtime.filter((i) => i.getKeyword() === "USER");
    const user = users.at(-1)?.getArguments()[0]?.getValue() ?? "";
    const uid = user.split(":")[0] ?? "";
    if (!/^\d+$/.test(uid) || Number(uid) === 0) {
      report("non-root", `final stage must end with USER <numeric non-zero uid>[:gid], found ${JSON.stringify(user)}`);
    }
    const cmds = runtime.filter((i) => i.getKeyword() === "CMD" || i.getKeyword() === "ENTRYPOINT");
    if (cmds.length === 0) report("exec-form", "final stage needs a CMD");
    for (const cmd of cmds) {
      if (!(cmd instanceof JSONInstruction) || cmd.getJSONStrings().length === 0) {
        report("exec-form", `${cmd.getKeyword()} must use the exec (JSON) form so node receives SIGTERM`);
      } else if (cmd.getKeyword() === "CMD" && cmd.getJSONStrings()[0]?.getJSONValue() !== "node") {
        report("exec-form", "CMD must start node directly (no shell, no npm: they do not forward SIGTERM)");
      }
    }
    const env = runtime.filter((i) => i.getKeyword() === "ENV").flatMap((i) => split(i).args.join(" ").split(/\s+/));
    if (!env.some((e) => /^NODE_ENV=("?)production\1$/.test(e)))
      report("node-env", "final stage must set ENV NODE_ENV=production");
    const exposed = runtime
      .filter((i) => i.getKeyword() === "EXPOSE")
      .flatMap((i) => split(i).args)
      .map((p) => Number(p.split("/")[0]));
    for (const port of expect.ports) {
      if (!exposed.includes(port)) report("expose", `final stage must EXPOSE ${port}`);
    }
    // Runtime files beside the service's sources (data, templates) must reach the image.
    const copied = runtime
      .filter((i) => i.getKeyword() === "COPY")
      .flatMap((i) => split(i).args.slice(0, -1))
      .map((s) => s.replace(/^\/app\//, "").replace(/\/$/, ""));
    for (const entry of readdirSync(join(expect.repoRoot, expect.serviceDir))) {
      if (NOT_RUNTIME.test(entry)) continue;
      const path = `${expect.serviceDir}/${entry}`;
      if (!copied.includes(path)) report("runtime-files", `${path} is not copied into the final stage`);
    }
    // Files the shipped packages read beside their dist (the dashboard's assets), at the same path.
    for (const pkg of expect.packages ?? []) {
      for (const path of packageRuntimeFiles(expect.repoRoot, pkg)) {
        if (!existsSync(join(expect.repoRoot, path)))
          report("runtime-files", `${pkg} reads ${path} at run time, but it does not exist`);
        else if (!copied.some((c) => path === c || path.startsWith(`${c}/`)))
          report("runtime-files", `${pkg} reads ${path} at run time; copy it into the final stage at that path`);
      }
    }
  }
  return out;
}

/** Patterns the root .dockerignore must contain (any of the spellings per entry). */
const REQUIRED_IGNORES: readonly (readonly string[])[] = [
  ["node_modules", "**/node_modules"],
  ["dist", "**/dist"],
  ["certs", "certs/", "**/certs"],
  [".git", ".git/"],
  ["**/*.pem", "*.pem"],
  ["**/*.key", "*.key"],
  ["**/.env", ".env"],
];

/** Checks the .dockerignore text; returns violations. */
export function checkDockerignore(text: string): DockerViolation[] {
  const lines = new Set(
    text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
  return REQUIRED_IGNORES.filter((spellings) => !spellings.some((s) => lines.has(s))).map((spellings) => ({
    rule: "dockerignore",
    message: `.dockerignore must exclude ${spellings[0]}`,
  }));
}
