import type { CallContext } from "@obfy/kit/core";
import { getPeerIdentity, principalOf } from "@obfy/kit/security";

/**
 * Who made a call, for the audit log: the token's subject (an admin's account id), else the
 * workload name of a client certificate, else "anonymous" (a deployment without tokens).
 */
export function actorOf(context: Pick<CallContext, "get">): string {
  return principalOf(context)?.subject ?? getPeerIdentity(context)?.name ?? "anonymous";
}
