/**
 * Configuration: one TOML file parsed with smol-toml and validated with a zod schema.
 * Durations and sizes are parsed once here; errors name the file, line and key.
 *
 * @module
 */
export { ConfigError } from "./errors.ts";
export { configErrorAt, defaultConfig, loadConfig, parseConfig } from "./load.ts";
export { type Config, configSchema, type ListenConfig } from "./schema.ts";
export { formatDuration, parseDuration, parseSize } from "./units.ts";
export { TLS_LEVEL_NAMES } from "./schema_delivery.ts";
