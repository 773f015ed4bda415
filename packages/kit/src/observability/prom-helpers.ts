import { Counter, type Registry } from "prom-client";

/** A counter registered on `registry` only (never on prom-client's global registry). */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}
