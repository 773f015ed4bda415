import { type ClientOptions, createClient, type ServiceClient } from "@obfy/kit/client";
import { envString, type Logger } from "@obfy/kit/core";
import {
  accountsV1,
  cartV1,
  catalogV1,
  clientsV1,
  deadLettersV1,
  inventoryV1,
  notificationsV1,
  ordersV1,
  paymentsV1,
  recommendationsV1,
  reviewsV1,
  webhooksV1,
} from "@obfy/protos";

/** The store services the Marketplace calls, by name, with their default local addresses. */
export const STORE_SERVICES = {
  recommendations: "127.0.0.1:50051",
  catalog: "127.0.0.1:50052",
  inventory: "127.0.0.1:50053",
  accounts: "127.0.0.1:50054",
  reviews: "127.0.0.1:50055",
  cart: "127.0.0.1:50056",
  orders: "127.0.0.1:50057",
  payments: "127.0.0.1:50058",
  notifications: "127.0.0.1:50059",
  webhooks: "127.0.0.1:50060",
} as const;

/** A store service's name. */
export type StoreServiceName = keyof typeof STORE_SERVICES;

/** The services whose dead letters the back-office shows (every service that consumes events or tasks). */
export const DEAD_LETTER_SERVICES: readonly StoreServiceName[] = [
  "catalog",
  "inventory",
  "reviews",
  "recommendations",
  "cart",
  "orders",
  "payments",
  "notifications",
  "webhooks",
];

/** Typed gRPC clients of every store service the Marketplace calls. */
export interface Store {
  readonly catalog: ServiceClient<typeof catalogV1.CatalogServiceService>;
  readonly inventory: ServiceClient<typeof inventoryV1.InventoryServiceService>;
  readonly accounts: ServiceClient<typeof accountsV1.AccountsServiceService>;
  /** Accounts' third-party OAuth2 clients (`bookstore.accounts.v1.ClientsService`), on the Accounts address. */
  readonly clients: ServiceClient<typeof clientsV1.ClientsServiceService>;
  readonly reviews: ServiceClient<typeof reviewsV1.ReviewsServiceService>;
  readonly recommendations: ServiceClient<typeof recommendationsV1.RecommendationsServiceService>;
  readonly cart: ServiceClient<typeof cartV1.CartServiceService>;
  readonly orders: ServiceClient<typeof ordersV1.OrdersServiceService>;
  readonly payments: ServiceClient<typeof paymentsV1.PaymentsServiceService>;
  readonly notifications: ServiceClient<typeof notificationsV1.NotificationsServiceService>;
  /** Webhook subscriptions and their delivery log, for the back-office. */
  readonly webhooks: ServiceClient<typeof webhooksV1.WebhooksServiceService>;
  /** Each consuming service's `kit.events.v1.DeadLettersService`, served on the service's own address. */
  readonly deadLetters: Readonly<
    Partial<Record<StoreServiceName, ServiceClient<typeof deadLettersV1.DeadLettersServiceService>>>
  >;
  /** Where each service is, for the readiness report. */
  readonly targets: Readonly<Record<string, string>>;
  /** Closes every channel. */
  close(): void;
}

/** Options of {@link createStore}. */
export interface StoreOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  readonly credentials?: ClientOptions["credentials"];
  /** grpc-js interceptors after the kit's own (tracing, then metrics). */
  readonly interceptors?: ClientOptions["interceptors"];
  /** Deadline of a call that sets none (writes); pages set shorter ones on their reads. */
  readonly defaultTimeoutMs?: number;
}

/**
 * The address of a store service: `<NAME>_ADDRESS` (`CATALOG_ADDRESS=127.0.0.1:50052`, on
 * Kubernetes `dns:///catalog:50052`), for Recommendations also the older
 * `RECOMMENDATIONS_HOST` / `RECOMMENDATIONS_PORT`, else the local default.
 */
export function storeAddress(env: NodeJS.ProcessEnv, name: StoreServiceName): string {
  const variable = `${name.toUpperCase()}_ADDRESS`;
  const given = env[variable]?.trim();
  if (given) return given;
  if (name === "recommendations" && (env.RECOMMENDATIONS_HOST?.trim() || env.RECOMMENDATIONS_PORT?.trim())) {
    const host = envString(env, "RECOMMENDATIONS_HOST", "localhost");
    const port = envString(env, "RECOMMENDATIONS_PORT", "50051");
    return `dns:///${host.includes(":") ? `[${host}]` : host}:${port}`;
  }
  return STORE_SERVICES[name];
}

/** One client per store service (channels are pooled per target by the kit). */
export function createStore(options: StoreOptions): Store {
  const clients: { close(): void }[] = [];
  const targets: Record<string, string> = {};
  const make = <const D extends Parameters<typeof createClient>[0]>(
    definition: D,
    name: StoreServiceName,
  ): ServiceClient<D> => {
    const target = storeAddress(options.env, name);
    targets[name] = target;
    const client = createClient(definition, target, {
      defaultTimeoutMs: options.defaultTimeoutMs ?? 5000,
      // Every store service is our own grpc-js server, which accepts frequent pings (no
      // ping-strike policy), so a page finds a silently dead replica (cable pulled, node gone)
      // within ~15 s instead of the kit's conservative 5 minutes: until then every call sent
      // there waits out its deadline (test/multi-host-partition.test.ts measures the recovery).
      keepalive: { timeMs: 10_000, timeoutMs: 5_000 },
      ...(options.logger === undefined
        ? {}
        : { logger: options.logger.child({ component: "grpc-client", peer: name }) }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...(options.interceptors === undefined ? {} : { interceptors: options.interceptors }),
    });
    clients.push(client);
    return client;
  };
  const deadLetters: Partial<Record<StoreServiceName, ServiceClient<typeof deadLettersV1.DeadLettersServiceService>>> =
    {};
  for (const name of DEAD_LETTER_SERVICES) deadLetters[name] = make(deadLettersV1.DeadLettersServiceService, name);
  return {
    catalog: make(catalogV1.CatalogServiceService, "catalog"),
    inventory: make(inventoryV1.InventoryServiceService, "inventory"),
    accounts: make(accountsV1.AccountsServiceService, "accounts"),
    clients: make(clientsV1.ClientsServiceService, "accounts"),
    reviews: make(reviewsV1.ReviewsServiceService, "reviews"),
    recommendations: make(recommendationsV1.RecommendationsServiceService, "recommendations"),
    cart: make(cartV1.CartServiceService, "cart"),
    orders: make(ordersV1.OrdersServiceService, "orders"),
    payments: make(paymentsV1.PaymentsServiceService, "payments"),
    notifications: make(notificationsV1.NotificationsServiceService, "notifications"),
    webhooks: make(webhooksV1.WebhooksServiceService, "webhooks"),
    deadLetters,
    targets,
    close() {
      for (const client of clients.splice(0)) client.close();
    },
  };
}
