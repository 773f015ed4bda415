/**
 * Validates rendered objects against the Kubernetes API schemas, twice over:
 * - kubernetes-models' JSON-schema validators (types, formats, required fields), and
 * - the TypeScript compiler, type-checking each object as an object literal against the
 *   kubernetes-models interface, because the JSON schemas allow unknown fields and a misspelt
 *   field (`readinesProbe`) would otherwise pass silently, as it would in the API server before
 *   strict field validation.
 * cert-manager objects get a structural check: its models package needs Node 22.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import ts from "typescript";
import type { K8sObject } from "./kustomize.js";
import { isObject } from "./strategic-merge.js";

interface Model {
  validate(): void;
}

/** apiVersion/kind → the model class and the module that declares its interface. */
const MODELS: Readonly<Record<string, { create: (data: K8sObject) => Model; module: string; type: string }>> = {
  "v1/ConfigMap": { create: (d) => new ConfigMap(d as never), module: "v1/ConfigMap", type: "IConfigMap" },
  "v1/Namespace": { create: (d) => new Namespace(d as never), module: "v1/Namespace", type: "INamespace" },
  "v1/Secret": { create: (d) => new Secret(d as never), module: "v1/Secret", type: "ISecret" },
  "v1/Service": { create: (d) => new Service(d as never), module: "v1/Service", type: "IService" },
  "apps/v1/Deployment": {
    create: (d) => new Deployment(d as never),
    module: "apps/v1/Deployment",
    type: "IDeployment",
  },
  "apps/v1/StatefulSet": {
    create: (d) => new StatefulSet(d as never),
    module: "apps/v1/StatefulSet",
    type: "IStatefulSet",
  },
  "policy/v1/PodDisruptionBudget": {
    create: (d) => new PodDisruptionBudget(d as never),
    module: "policy/v1/PodDisruptionBudget",
    type: "IPodDisruptionBudget",
  },
  "autoscaling/v2/HorizontalPodAutoscaler": {
    create: (d) => new HorizontalPodAutoscaler(d as never),
    module: "autoscaling/v2/HorizontalPodAutoscaler",
    type: "IHorizontalPodAutoscaler",
  },
  "networking.k8s.io/v1/NetworkPolicy": {
    create: (d) => new NetworkPolicy(d as never),
    module: "networking.k8s.io/v1/NetworkPolicy",
    type: "INetworkPolicy",
  },
  "networking.k8s.io/v1/Ingress": {
    create: (d) => new Ingress(d as never),
    module: "networking.k8s.io/v1/Ingress",
    type: "IIngress",
  },
};

function key(o: K8sObject): string {
  return `${o.apiVersion}/${o.kind}`;
}

function name(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}

/** Structural rules for the cert-manager kinds we use (Issuer with a CA, Certificate). */
function checkCertManager(o: K8sObject): string[] {
  const spec = o.spec;
  if (!isObject(spec)) return [`${name(o)}: spec is missing`];
  const known: Record<string, string[]> = {
    Issuer: ["ca"],
    Certificate: [
      "secretName",
      "commonName",
      "dnsNames",
      "uris",
      "usages",
      "duration",
      "renewBefore",
      "privateKey",
      "issuerRef",
    ],
  };
  const allowed = known[o.kind];
  if (allowed === undefined) return [`${name(o)}: cert-manager kind ${o.kind} is not checked here`];
  const errors = Object.keys(spec)
    .filter((field) => !allowed.includes(field))
    .map((field) => `${name(o)}: unknown field spec.${field}`);
  if (o.kind === "Issuer" && !(isObject(spec.ca) && typeof spec.ca.secretName === "string")) {
    errors.push(`${name(o)}: spec.ca.secretName is required`);
  }
  if (o.kind === "Certificate") {
    if (typeof spec.secretName !== "string") errors.push(`${name(o)}: spec.secretName is required`);
    if (!isObject(spec.issuerRef) || typeof spec.issuerRef.name !== "string") {
      errors.push(`${name(o)}: spec.issuerRef.name is required`);
    }
    const usages = spec.usages;
    const valid = ["server auth", "client auth", "digital signature", "key encipherment"];
    if (!Array.isArray(usages) || usages.some((u) => typeof u !== "string" || !valid.includes(u))) {
      errors.push(`${name(o)}: spec.usages must list known usages (${valid.join(", ")})`);
    }
  }
  return errors;
}

/** Runs the kubernetes-models validators; returns one message per invalid or unknown object. */
export function validateWithModels(objects: readonly K8sObject[]): string[] {
  const errors: string[] = [];
  for (const o of objects) {
    if (o.apiVersion === "cert-manager.io/v1") {
      errors.push(...checkCertManager(o));
      continue;
    }
    const model = MODELS[key(o)];
    if (model === undefined) {
      errors.push(`${name(o)}: no schema for ${key(o)}; add it to deploy/tests/schema-check.ts`);
      continue;
    }
    try {
      model.create(o).validate();
    } catch (error) {
      errors.push(`${name(o)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return errors;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Type-checks every object with a kubernetes-models interface as a fresh object literal, so
 * TypeScript's excess-property check reports unknown fields. Returns the compiler's messages.
 */
export function typeCheckWithModels(objects: readonly K8sObject[]): string[] {
  const imports = new Set<string>();
  const lines: string[] = [];
  objects.forEach((o, i) => {
    const model = MODELS[key(o)];
    if (model === undefined) return;
    imports.add(`import type { ${model.type} } from "kubernetes-models/${model.module}";`);
    lines.push(`// ${name(o)}\nexport const o${i}: ${model.type} = ${JSON.stringify(o, null, 2)};`);
  });
  const fileName = join(here, "__rendered-manifests__.ts");
  const source = `${[...imports].join("\n")}\n${lines.join("\n")}\n`;
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, languageVersion, onError, shouldCreate) =>
    file === fileName
      ? ts.createSourceFile(file, source, languageVersion, true)
      : getSourceFile(file, languageVersion, onError, shouldCreate);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === fileName || fileExists(file);
  const program = ts.createProgram([fileName], options, host);
  const sourceFile = program.getSourceFile(fileName);
  const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file === undefined || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    // Name the object the error is in: the nearest "// Kind/name" line above it.
    const above = source
      .split("\n")
      .slice(0, line + 1)
      .reverse()
      .find((l) => l.startsWith("// "));
    return `${above?.slice(3) ?? "?"}: ${text}`;
  });
}
