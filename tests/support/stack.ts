/** The usual integration set-up: test credentials, a mock upstream, and a proxy in front of it. */
import {
  type Behaviour,
  MockUpstream,
  type SeenRequest,
} from "./mock_upstream.ts";
import {
  type ProxyProcess,
  startProxy,
  testCredentials,
  writeSecrets,
} from "./proxy.ts";

/** Options of {@linkcode startStack}. */
export interface StackOptions {
  /** How many credentials (default 1). */
  credentials?: number;
  /** The mock upstream's behaviour (default: its normal answers). */
  behave?: (req: SeenRequest) => Behaviour | undefined;
  /** Extra flags for `serve`. */
  args?: string[];
}

/** A running mock upstream and proxy; disposing stops both. */
export interface Stack {
  upstream: MockUpstream;
  proxy: ProxyProcess;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a mock upstream and `flow-proxy serve` in front of it. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const creds = testCredentials(options.credentials ?? 1);
  const upstream = MockUpstream.start({
    credentials: creds,
    behave: options.behave,
  });
  let proxy: ProxyProcess;
  try {
    proxy = await startProxy({
      upstream: upstream.url,
      secretsFile: writeSecrets(creds),
      args: options.args,
    });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  return {
    upstream,
    proxy,
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await upstream.close();
    },
  };
}
