// The ClientsService's RPCs: third-party OAuth2 clients and the client-credentials grant.
import type { Database } from "@obfy/kit/db";
import { requirePrincipal } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import type { clientsV1 } from "@obfy/protos";
import { findClient, insertClient, listClients, revokeClient } from "./db/clients.js";
import type { AccountsSchema } from "./db/schema.js";
import { clientNotFound, invalidClientCredentials, invalidField, invalidPageToken, scopeNotAllowed } from "./errors.js";
import { clientOf, decodePageToken, encodePageToken, timestamp } from "./messages.js";
import { hashSecret, newClientId, newSecret, secretMatches } from "./secrets.js";
import type { TokenIssuer } from "./token-issuer.js";
import { checkClientScopes, checkDisplayName, checkId, checkPageSize, checkSecret } from "./validation.js";

/** What the handlers need. */
export interface ClientsHandlerDeps {
  readonly database: Database<AccountsSchema>;
  readonly issuer: TokenIssuer;
}

/** Stands in for the stored hash of an unknown client, so both failures take the same work. */
const NO_CLIENT_HASH = hashSecret("no such client");

/** Creates the ClientsService handlers. */
export function createClientsHandlers(
  deps: ClientsHandlerDeps,
): ServiceImplementation<typeof clientsV1.ClientsServiceService> {
  const { database, issuer } = deps;
  const db = database.kysely;
  return {
    async createClient(request, context) {
      const admin = requirePrincipal(context);
      if (request.client === undefined) throw invalidField("client", "client is required");
      const displayName = checkDisplayName("client.display_name", request.client.displayName);
      const allowedScopes = checkClientScopes("client.allowed_scopes", request.client.allowedScopes);
      const secret = newSecret();
      const row = await insertClient(db, {
        id: newClientId(),
        displayName,
        allowedScopes,
        secretHash: hashSecret(secret),
        createdBy: admin.subject,
      });
      return { client: clientOf(row), clientSecret: secret };
    },

    async listClients(request, context) {
      const limit = checkPageSize(request.pageSize);
      let before: string | undefined;
      if (request.pageToken !== "") {
        const token = decodePageToken(request.pageToken, {});
        if (token?.before === undefined || !/^\d{1,19}$/.test(token.before)) throw invalidPageToken();
        before = token.before;
      }
      const rows = await listClients(db, { beforeSeq: before, limit: limit + 1 }, context.signal);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        clients: page.map(clientOf),
        nextPageToken: rows.length > limit && last !== undefined ? encodePageToken({ before: String(last.seq) }) : "",
      };
    },

    async revokeClient(request) {
      const clientId = checkId("client_id", request.clientId);
      const row = await revokeClient(db, clientId);
      if (row === undefined) throw clientNotFound();
      return { client: clientOf(row) };
    },

    async issueClientToken(request) {
      const clientId = checkId("client_id", request.clientId);
      const secret = checkSecret("client_secret", request.clientSecret);
      const client = await findClient(db, clientId);
      const matches = secretMatches(secret, client?.secret_hash ?? NO_CLIENT_HASH);
      if (client === undefined || client.revoked_at !== null || !matches) throw invalidClientCredentials();
      // OAuth2 writes scopes space-separated: an element "a b" asks for both.
      const asked = request.scopes.flatMap((scope) => scope.split(" ")).filter((scope) => scope !== "");
      const granted = asked.length === 0 ? client.allowed_scopes : [...new Set(asked)];
      const refused = granted.find((scope) => !client.allowed_scopes.includes(scope));
      if (refused !== undefined) throw scopeNotAllowed([...refused].slice(0, 100).join(""));
      const access = await issuer.issueClientToken({ clientId: client.id, scopes: granted });
      return {
        accessToken: { token: access.token, expireTime: timestamp(access.expiresAt) },
        scope: granted.join(" "),
      };
    },
  };
}
