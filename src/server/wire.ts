/** Settings as they cross a `postMessage` between the supervisor and workers. */
import type { Settings } from "../config/settings.ts";

/** The settings that hold a `URL`, which a structured clone turns into `{}`. */
type UrlKeys = "upstream" | "clickhouseUrl" | "redisUrl" | "acmeDirectory";

/** Settings as they cross a `postMessage` (URLs as strings). */
export type WireSettings = Omit<Settings, UrlKeys> & {
  upstream: string;
  clickhouseUrl: string | null;
  redisUrl: string | null;
  acmeDirectory: string;
};

/** Settings → their structured-clone form. */
export function toWire(settings: Settings): WireSettings {
  return {
    ...settings,
    upstream: settings.upstream.href,
    clickhouseUrl: settings.clickhouseUrl?.href ?? null,
    redisUrl: settings.redisUrl?.href ?? null,
    acmeDirectory: settings.acmeDirectory.href,
  };
}

/** The structured-clone form → settings. */
export function fromWire(wire: WireSettings): Settings {
  return {
    ...wire,
    upstream: new URL(wire.upstream),
    clickhouseUrl: wire.clickhouseUrl === null
      ? null
      : new URL(wire.clickhouseUrl),
    redisUrl: wire.redisUrl === null ? null : new URL(wire.redisUrl),
    acmeDirectory: new URL(wire.acmeDirectory),
  };
}
