import { accountsV1, cartV1 } from "@obfy/protos";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { formFailure, grpcCode, section } from "../calls.js";
import { type FormBody, field, safeReturnTo } from "../forms.js";
import { pageContext, type RouteContext } from "../page.js";
import { asShopper, CART_COOKIE, type Shopper } from "../session.js";
import { formatTime, sendPage } from "../views.js";

/** The sign-in message for a wrong password and an unknown email alike (Accounts' own). */
export const SIGN_IN_FAILED = "Email or password is incorrect";

interface AccountForm {
  readonly email: string;
  readonly returnTo: string;
  readonly error?: string;
  readonly errors: Record<string, string>;
}

const PAGES = {
  signUp: {
    template: "./account-form",
    title: "Create an account",
    heading: "Create an account",
    action: "/account/sign-up",
    button: "Create account",
    newPassword: true,
    otherText: "Already have an account?",
    otherLink: "Sign in",
    otherUrl: "/account/sign-in",
  },
  signIn: {
    template: "./account-form",
    title: "Sign in",
    heading: "Sign in",
    action: "/account/sign-in",
    button: "Sign in",
    newPassword: false,
    otherText: "New here?",
    otherLink: "Create an account",
    otherUrl: "/account/sign-up",
  },
} as const;

function sendForm(
  request: FastifyRequest,
  reply: FastifyReply,
  page: (typeof PAGES)[keyof typeof PAGES],
  form: AccountForm,
  status = 200,
) {
  return sendPage(reply, page.template, page.title, pageContext(request, reply), { ...page, ...form }, status);
}

function requireFields(email: string, password: string): Record<string, string> {
  const errors: Record<string, string> = {};
  if (email.trim() === "") errors.email = "Enter your email address.";
  else if (email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(email.trim()))
    errors.email = "Enter a valid email address, like name@example.com.";
  if (password === "") errors.password = "Enter your password.";
  return errors;
}

/** Sign-up, sign-in, sign-out and the account page. */
export function registerAccountRoutes(app: FastifyInstance, context: RouteContext): void {
  const { store, sessions, timeoutMs } = context;
  const csrf = { preHandler: app.csrfProtection.bind(app) };
  const clientInfo = (request: FastifyRequest) =>
    accountsV1.ClientInfo.fromPartial({
      ipAddress: request.ip,
      userAgent: String(request.headers["user-agent"] ?? "").slice(0, 300),
    });

  /** After sign-up or sign-in: the anonymous cart joins the shopper's (best effort). */
  const mergeCart = async (request: FastifyRequest, reply: FastifyReply, shopper: Shopper) => {
    const raw = request.cookies[CART_COOKIE];
    const unsigned = raw === undefined ? undefined : request.unsignCookie(raw);
    if (unsigned?.valid !== true || unsigned.value === null) return;
    try {
      await store.cart.mergeCart(cartV1.MergeCartRequest.fromPartial({ anonymousCartId: unsigned.value }), {
        metadata: asShopper(shopper),
      });
      reply.clearCookie(CART_COOKIE, { path: "/" });
    } catch (error) {
      request.log.warn({ err: error }, "anonymous cart not merged at sign-in");
    }
  };

  const returnToOf = (request: FastifyRequest<{ Querystring: { return_to?: string } }>) =>
    safeReturnTo(typeof request.query.return_to === "string" ? request.query.return_to : "/account");

  app.get<{ Querystring: { return_to?: string } }>("/account/sign-up", async (request, reply) =>
    sendForm(request, reply, PAGES.signUp, { email: "", returnTo: returnToOf(request), errors: {} }),
  );
  app.get<{ Querystring: { return_to?: string } }>("/account/sign-in", async (request, reply) =>
    sendForm(request, reply, PAGES.signIn, { email: "", returnTo: returnToOf(request), errors: {} }),
  );

  const submit =
    (page: (typeof PAGES)[keyof typeof PAGES], signUp: boolean) =>
    async (request: FastifyRequest<{ Body: FormBody }>, reply: FastifyReply) => {
      const email = field(request.body, "email");
      const password = field(request.body, "password");
      const returnTo = safeReturnTo(field(request.body, "return_to") || "/account");
      const errors = requireFields(email, password);
      if (Object.keys(errors).length > 0) {
        return sendForm(request, reply, page, { email, returnTo, errors, error: "Please correct the form." }, 400);
      }
      try {
        const response = signUp
          ? await store.accounts.signUp(
              accountsV1.SignUpRequest.fromPartial({ email, password, client: clientInfo(request) }),
            )
          : await store.accounts.signIn(
              accountsV1.SignInRequest.fromPartial({ email, password, client: clientInfo(request) }),
            );
        if (response.signedIn === undefined) throw new Error("Accounts answered without a session");
        const shopper = sessions.signIn(reply, response.signedIn);
        request.log.info({ account_id: shopper.accountId }, signUp ? "account created" : "signed in");
        await mergeCart(request, reply, shopper);
        return reply.redirect(returnTo, 303);
      } catch (error) {
        const failure = formFailure(error, { email: "email", password: "password" });
        if (failure.unavailable) {
          request.log.warn({ err: error }, "accounts unavailable");
          return sendForm(request, reply, page, { email, returnTo, errors: {}, error: failure.message }, 503);
        }
        const fieldErrors = { ...failure.fields };
        // An existing email belongs next to the email field.
        if (signUp && failure.message.includes("already exists")) fieldErrors.email ??= failure.message;
        // Sign-in never says which of the two was wrong.
        const message = signUp || grpcCode(error) === "RESOURCE_EXHAUSTED" ? failure.message : SIGN_IN_FAILED;
        return sendForm(
          request,
          reply,
          page,
          { email, returnTo, errors: signUp ? fieldErrors : {}, error: message },
          400,
        );
      }
    };
  app.post<{ Body: FormBody }>("/account/sign-up", csrf, submit(PAGES.signUp, true));
  app.post<{ Body: FormBody }>("/account/sign-in", csrf, submit(PAGES.signIn, false));

  app.post("/account/sign-out", csrf, async (request, reply) => {
    const sessionToken = sessions.sessionToken(request);
    if (sessionToken !== undefined) {
      try {
        await store.accounts.signOut(accountsV1.SignOutRequest.fromPartial({ sessionToken }));
      } catch (error) {
        // The cookies go anyway; the session ends by itself after 30 days without use.
        request.log.warn({ err: error }, "sign-out not recorded by Accounts");
      }
    }
    sessions.clear(reply);
    return reply.redirect("/", 303);
  });

  app.get("/account", async (request, reply) => {
    const shopper = request.shopper;
    if (shopper === undefined) return reply.redirect("/account/sign-in?return_to=%2Faccount", 303);
    const metadata = asShopper(shopper);
    const [account, list] = await Promise.all([
      section(request.log, "account", () =>
        store.accounts.getAccount(accountsV1.GetAccountRequest.fromPartial({ accountId: "me" }), {
          timeoutMs,
          metadata,
        }),
      ),
      section(
        request.log,
        "sessions",
        () => store.accounts.listSessions({}, { timeoutMs, metadata }),
        "Your devices cannot be listed right now.",
      ),
    ]);
    return sendPage(reply, "./account", "Your account", pageContext(request, reply), {
      since: account.ok ? formatTime(account.value.account?.createTime) : "",
      sessions: list.ok
        ? { list: list.value.sessions.map((s) => ({ userAgent: s.userAgent, lastUse: formatTime(s.lastUseTime) })) }
        : { notice: list.notice },
    });
  });
}
