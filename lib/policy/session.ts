import { connectionVars, makeContext, splitAddress } from "./context.ts";
import type { PolicyEngine } from "./engine.ts";
import type { Decision, PolicyContext, Stage, VarValue } from "./types.ts";

/** What a session knows about its connection when it starts. */
export interface PolicyClient {
  ip: string;
  port?: number;
  /** Verified reverse DNS name, or "". */
  hostname?: string;
  /** PROXY protocol details (`{ ip, port, tls_version ... }`), when a proxy sent them. */
  proxy?: Record<string, string | number | boolean>;
}

/**
 * The policy side of one SMTP connection: keeps what conditions see (HELO, TLS, AUTH, the
 * current transaction) and the variables rules set, and evaluates stages with them.
 * Variables named `m_*` are dropped at the end of each transaction ({@linkcode endMessage}).
 *
 * @example Usage
 * ```ts
 * const p = new PolicySession(engine, relay, { ip: "192.0.2.1", port: 40000 });
 * const d = await p.check("rcpt", { rcpt: "bob@example.org" });
 * if (d.verb === "accept") p.addRecipient("bob@example.org");
 * ```
 */
export class PolicySession {
  readonly #engine: PolicyEngine;
  readonly #ctx: PolicyContext;

  /** Starts the connection's context; `relay` comes from `openPolicy(...).relay`. */
  constructor(engine: PolicyEngine, relay: PolicyContext["relay"], client: PolicyClient) {
    this.#engine = engine;
    this.#ctx = makeContext({
      client: { ip: client.ip, port: client.port ?? 0, hostname: client.hostname ?? "" },
      proxy: client.proxy ?? {},
      relay,
    });
  }

  /** The current context (read-only use: for logs and test-session). */
  get context(): Readonly<PolicyContext> {
    return this.#ctx;
  }

  /** Records HELO/EHLO. */
  setHelo(helo: string): void {
    this.#ctx.client.helo = helo;
  }

  /** Records the TLS session after STARTTLS (or on an implicit TLS port). */
  setTls(tls: Partial<PolicyContext["tls"]>): void {
    Object.assign(this.#ctx.tls, tls);
  }

  /** Records a successful AUTH. */
  setAuth(user: string): void {
    this.#ctx.auth.user = user;
    this.#ctx.authenticated = true;
  }

  /** Fills results of later checks: `setResult("spf", { result: "pass" })`. */
  setResult(check: "spf" | "dkim" | "dmarc" | "arc", result: Record<string, string>): void {
    this.#ctx[check] = { ...result };
  }

  /** Adds an accepted recipient (predata and data see them in `rcpts`). */
  addRecipient(address: string): void {
    this.#ctx.rcpts.push(address);
  }

  /**
   * Evaluates a stage. `sender` (MAIL), `rcpt` (RCPT) and `message` (data) update the
   * transaction first; the variables rules set are kept for the next stages.
   */
  async check(
    stage: Stage,
    input: { sender?: string; rcpt?: string; message?: Partial<PolicyContext["message"]> } = {},
  ): Promise<Decision> {
    if (input.sender !== undefined) this.#ctx.sender = splitAddress(input.sender);
    this.#ctx.rcpt = input.rcpt !== undefined
      ? splitAddress(input.rcpt)
      : { address: "", local: "", domain: "" };
    if (input.message) Object.assign(this.#ctx.message, input.message);
    const decision = await this.#engine.evaluateStage(stage, this.#ctx);
    this.#ctx.vars = decision.vars;
    return decision;
  }

  /** Ends a transaction (after DATA, RSET, or a new STARTTLS): forgets sender, recipients, `m_*`. */
  endMessage(): void {
    this.#ctx.sender = { address: "", local: "", domain: "" };
    this.#ctx.rcpt = { address: "", local: "", domain: "" };
    this.#ctx.rcpts = [];
    this.#ctx.message = { size: 0, headers: {} };
    this.#ctx.spf = { result: "none" };
    this.#ctx.dkim = { result: "none" };
    this.#ctx.dmarc = { result: "none" };
    this.#ctx.arc = { result: "none" };
    this.#ctx.vars = connectionVars(this.#ctx.vars as Record<string, VarValue>);
  }

  /** Forgets HELO, TLS and AUTH too (after STARTTLS, RFC 3207 4.2). */
  reset(): void {
    this.endMessage();
    this.#ctx.client.helo = "";
    this.#ctx.auth.user = "";
    this.#ctx.authenticated = false;
  }
}
