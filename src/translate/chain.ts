/**
 * Two stream translations one after the other (Flow's API → the hub → the
 * client's API): every event the first gives goes through the second at
 * once, so joining adds no waiting.
 */
import type { ErrorInfo, EventTranslator, StreamEvent } from "./types.ts";

/** `first` then `second`, as one {@linkcode EventTranslator}. */
export function chainStreams(
  first: EventTranslator,
  second: EventTranslator,
): EventTranslator {
  const through = (events: StreamEvent[]): StreamEvent[] => {
    if (events.length === 0) return events;
    if (events.length === 1) return second.push(events[0]);
    return events.flatMap((e) => second.push(e));
  };
  return {
    push: (event) => through(first.push(event)),
    end: () => {
      const out = through(first.end());
      return second.ended ? out : [...out, ...second.end()];
    },
    fail: (info: ErrorInfo) => second.fail(info),
    get ended() {
      return second.ended;
    },
  };
}
