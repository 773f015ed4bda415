import type { CallContext } from "@obfy/kit/core";
import { getPeerIdentity } from "@obfy/kit/security";

/**
 * Who made a call, for the audit log: the authenticated caller's name (a token's subject or a
 * certificate's workload name), or "anonymous" when the call carried no identity.
 */
export function actorOf(context: Pick<CallContext, "get">): string {
  return getPeerIdentity(context)?.name ?? "anonymous";
}
