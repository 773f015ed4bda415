import { InterceptingCall, Metadata, status, type InterceptingCallInterface, type InterceptingListener, type InterceptorOptions } from "@grpc/grpc-js";
import { createReissueInterceptor } from "./reissue-interceptor.ts";
const path = "/x.Y/Z";
const md = new Metadata(); const okStatus = { code: status.OK, details: "", metadata: md };
function stub(): InterceptingCallInterface {
  let l: Partial<InterceptingListener> | undefined;
  return { start(_m, li) { l = li; }, sendMessageWithContext() {}, sendMessage() {}, halfClose() { l?.onReceiveMetadata?.(md); l?.onReceiveMessage?.({}); l?.onReceiveStatus?.(okStatus); }, startRead() {}, cancelWithStatus() {}, getPeer: () => "", getAuthContext: () => null };
}
const opts = { deadline: Date.now() + 1e9, method_definition: { path, requestStream: false, responseStream: false } } as unknown as InterceptorOptions;
const reissue = createReissueInterceptor({ methods: [path] });
let sink = 0;
const listener = { onReceiveMetadata() { sink++; }, onReceiveMessage() { sink++; }, onReceiveStatus() { sink++; } };
const variants: Record<string, () => InterceptingCallInterface> = {
  none: () => stub(),
  reissue: () => reissue(opts, stub),
};
const N = 1_000_000;
for (const round of [0, 1, 2]) for (const [name, make] of Object.entries(variants)) {
  const t = performance.now();
  for (let i = 0; i < N; i++) { const c = make(); c.start(md, listener); c.sendMessage({}); c.halfClose(); }
  if (round > 0) console.log(name, ((performance.now() - t) * 1000 / N).toFixed(3), "µs/call");
}
console.log(sink > 0);
