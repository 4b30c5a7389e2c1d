/** Settings as they cross a `postMessage` between the supervisor and workers. */
import type { Settings } from "../config/settings.ts";

/** Settings as they cross a `postMessage` (URLs as strings). */
export type WireSettings = Omit<Settings, "upstream" | "clickhouseUrl"> & {
  upstream: string;
  clickhouseUrl: string | null;
};

/** Settings → their structured-clone form. */
export function toWire(settings: Settings): WireSettings {
  return {
    ...settings,
    upstream: settings.upstream.href,
    clickhouseUrl: settings.clickhouseUrl?.href ?? null,
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
  };
}
