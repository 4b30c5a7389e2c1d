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

/** One credential as {@linkcode testCredentials} makes it. */
export type TestCredential = ReturnType<typeof testCredentials>[number];

/** Options of {@linkcode startStack}. */
export interface StackOptions {
  /**
   * How many credentials to make with {@linkcode testCredentials} (default 1),
   * or the credentials themselves, for a test that needs them before the
   * stack exists (e.g. in `behave`).
   */
  credentials?: number | TestCredential[];
  /** The mock upstream's behaviour (default: its normal answers). */
  behave?: (req: SeenRequest) => Behaviour | undefined;
  /** Extra flags for `serve`. */
  args?: string[];
  /** Extra environment variables for `serve`. */
  env?: Record<string, string>;
  /**
   * Directory to write `secrets.json` in, which is also the proxy's working
   * directory (default: a new temp dir, as {@linkcode writeSecrets} makes).
   */
  dir?: string;
}

/** A running mock upstream and proxy; disposing stops both. */
export interface Stack {
  /** The credentials in the secrets file, all accepted by the upstream. */
  creds: TestCredential[];
  /** Path of the `secrets.json` the proxy was started with. */
  secretsFile: string;
  /** The mock upstream. */
  upstream: MockUpstream;
  /** The running `flow-proxy serve`. */
  proxy: ProxyProcess;
  /** Stops the proxy, then the upstream. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a mock upstream and `flow-proxy serve` in front of it. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const creds = Array.isArray(options.credentials)
    ? options.credentials
    : testCredentials(options.credentials ?? 1);
  const upstream = MockUpstream.start({
    credentials: creds,
    behave: options.behave,
  });
  let secretsFile: string;
  let proxy: ProxyProcess;
  try {
    secretsFile = writeSecrets(creds, options.dir);
    proxy = await startProxy({
      upstream: upstream.url,
      secretsFile,
      args: options.args,
      env: options.env,
    });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  return {
    creds,
    secretsFile,
    upstream,
    proxy,
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await upstream.close();
    },
  };
}
