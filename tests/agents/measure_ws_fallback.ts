/**
 * Measures how Codex falls back from its Responses WebSocket to HTTP for each
 * way of refusing the upgrade, straight against the mock Flow (no
 * flow-proxy), inside the network jail. Prints one line per answer.
 *
 * Usage: deno run -A tests/agents/measure_ws_fallback.ts [405 426 …]
 */
import type { WebSocketAnswer } from "../support/mock_flow.ts";
import { CODEX_TELEMETRY_OFF, runAgent } from "./run.ts";

const answers =
  (Deno.args.length ? Deno.args : ["400", "404", "405", "426", "501", "close"])
    .map((a) => (a === "close" ? a : Number(a)) as WebSocketAnswer);
for (const answer of answers) {
  const result = await runAgent({
    client: "codex",
    via: "direct",
    webSocket: answer,
    rules: { knownModelsOnly: false },
    args: ["exec", "--skip-git-repo-check", "Say hello"],
    env: { OPENAI_API_KEY: "anything" },
    homeFiles: {
      ".codex/config.toml":
        `openai_base_url = "{{BASE_URL}}/v1"\n${CODEX_TELEMETRY_OFF}`,
    },
    timeoutMs: 60_000,
  });
  const gets = result.flow.filter((r) =>
    r.method === "GET" && r.path === "/v1/responses"
  );
  const post = result.flow.find((r) =>
    r.method === "POST" && r.path === "/v1/responses"
  );
  const fallbackMs = gets.length && post ? post.at - gets[0].at : null;
  // deno-lint-ignore no-console
  console.log(
    `answer ${answer}: exit ${result.code}, ${gets.length} upgrade attempt(s) at ${
      gets.map((g) => g.at).join(",")
    } ms, HTTP POST ${
      post ? `${fallbackMs} ms after the first attempt` : "never"
    }`,
  );
}
