import { Reply } from "./reply.ts";

/** A command or its arguments break the grammar; carries the reply to send. */
export class SmtpSyntaxError extends Error {
  /** The reply the session should send. */
  readonly reply: Reply;
  /** Creates the error with its reply code, enhanced code and text. */
  constructor(code: number, enhanced: string, text: string) {
    super(text);
    this.name = "SmtpSyntaxError";
    this.reply = new Reply(code, enhanced, text);
  }
}
