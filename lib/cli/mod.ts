/**
 * The command-line commands; main.ts dispatches to them.
 *
 * @module
 */
export { UsageError } from "./args.ts";
export { DMARC_HELP, dmarcCommand, dmarcReports, queueReport } from "./dmarc.ts";
export { CHECK_CONFIG_HELP, checkConfigCommand } from "./check_config.ts";
export { PASSWD_HELP, passwdCommand } from "./passwd.ts";
export { QUEUE_HELP, queueCommand } from "./queue.ts";
export { SERVE_HELP, serveCommand } from "./serve.ts";
export { TEST_SESSION_HELP, testSessionCommand } from "./test_session.ts";
export { LOOKUP_HELP, lookupCommand } from "./lookup.ts";
