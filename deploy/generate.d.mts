/** A deployable in deploy/generate.mjs's table. */
export interface Deployable {
  readonly name: string;
  readonly protocol: "grpc" | "http";
  readonly port: number;
  readonly metricsPort: number;
  readonly database: boolean;
  readonly events: boolean;
  readonly public?: boolean;
  readonly calls: readonly string[];
  readonly scrapes?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly secretEnv?: readonly (readonly [string, string, string, boolean?])[];
}
export const DEPLOYABLES: readonly Deployable[];
/** Every generated file's repository path and text. */
export function generate(): Record<string, string>;
