/** One deployable `npm start` runs. */
export interface Service {
  /** The folder under services/, and the name of its database and role. */
  readonly name: string;
  readonly protocol: "grpc" | "http";
  readonly port: number;
  readonly metricsPort: number;
  /** Whether it owns a database. */
  readonly database: boolean;
  /** For the web front: the path `npm start` tells the user to open. */
  readonly open?: string;
  /** The token issuer: its admin port serves the JWKS the other services verify tokens with. */
  readonly issuesTokens?: boolean;
}

/** Every deployable, in start order. */
export const SERVICES: readonly Service[];

/** The event bus's database on the same server. */
export const BUS_DATABASE: string;

/** `order-history` → `ORDER_HISTORY`. */
export function variablePrefix(name: string): string;
