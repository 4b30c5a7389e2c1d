/**
 * The HTTP-01 challenges of this instance's orders, and with Redis those of
 * the other instances behind the same name (src/cluster/acme_store.ts): the
 * CA's validation request may reach any of them through a load balancer.
 * Redis failing only narrows the answers to this instance's own.
 *
 * @module
 */
import { describe } from "../../base/describe.ts";
import type { AcmeStore } from "../../cluster/acme_store.ts";
import type { ChallengeAnswers } from "../tls_redirect.ts";

/** Where a challenge that could not be shared is reported. */
export interface ChallengeLogger {
  warn(message: string): void;
}

/** The challenges an order creates and removes, and the listener reads. */
export interface ChallengeBook extends ChallengeAnswers {
  set(token: string, keyAuthorization: string): Promise<void>;
  delete(token: string): Promise<void>;
}

/** A book kept in memory, and in `store` when there is one. */
export function challengeBook(
  store: AcmeStore | null,
  logger: ChallengeLogger,
): ChallengeBook {
  const own = new Map<string, string>();
  return {
    async set(token, keyAuthorization) {
      own.set(token, keyAuthorization);
      await store?.putChallenge(token, keyAuthorization).catch((err) => {
        logger.warn(
          `Cannot share an ACME challenge through Redis (${
            describe(err)
          }): only this instance can answer it`,
        );
      });
    },
    async delete(token) {
      own.delete(token);
      await store?.dropChallenge(token).catch(() => {
        // It expires on its own.
      });
    },
    get(token) {
      const mine = own.get(token);
      if (mine !== undefined || store === null) return mine;
      return store.challenge(token).then(
        (theirs) => theirs ?? undefined,
        () => undefined,
      );
    },
  };
}
