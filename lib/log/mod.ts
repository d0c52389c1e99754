/**
 * The main log: Exim-style text lines or JSON, to stdout or a file.
 *
 * @module
 */
export {
  escapeControls,
  type LogFields,
  Logger,
  type LoggerOptions,
  type LogLevel,
  logValue,
} from "./logger.ts";
