import type { VerbHandler } from "./session.ts";
import { EHLO, EXPN, HELO, HELP, NOOP, QUIT, RSET, VRFY } from "./verbs_basic.ts";
import { MAIL, RCPT } from "./verbs_envelope.ts";
import { BDAT, DATA } from "./verbs_data.ts";
import { AUTH, STARTTLS } from "./verbs_tls_auth.ts";

/** Every verb the server knows, each handled by the function of the same name. */
export const VERBS: Readonly<Record<string, VerbHandler>> = {
  EHLO,
  HELO,
  MAIL,
  RCPT,
  DATA,
  BDAT,
  RSET,
  NOOP,
  QUIT,
  VRFY,
  EXPN,
  HELP,
  STARTTLS,
  AUTH,
};
