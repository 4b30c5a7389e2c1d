#!/bin/sh
# End-to-end smoke test of a flow-proxy build: --version, check-secrets on a
# good and a bad file, then `serve` in front of a mock Flow upstream
# (scripts/smoke_upstream.ts) with proxied requests in both modes, a SIGHUP
# reload and a graceful SIGTERM shutdown.
#
#   FLOW_PROXY=dist/flow-proxy scripts/smoke.sh
#   FLOW_PROXY="deno run -A main.ts" scripts/smoke.sh
#
# Needs deno (runs the mock upstream; override with DENO=…) and curl.
# Run it from the repository root. Exits non-zero on the first failed check.

set -eu

: "${FLOW_PROXY:?set FLOW_PROXY to the command under test, e.g. FLOW_PROXY=dist/flow-proxy}"
DENO=${DENO:-deno}
scripts=$(cd "$(dirname "$0")" && pwd)

# FLOW_PROXY is a command line ("deno run -A main.ts"): split it into words.
flow_proxy() {
	# shellcheck disable=SC2086
	$FLOW_PROXY "$@"
}

tmp=$(mktemp -d)
upstream_pid=
proxy_pid=
cleanup() {
	status=$?
	for pid in $proxy_pid $upstream_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$status" -ne 0 ]; then
		for log in "$tmp"/*.log; do
			[ -f "$log" ] || continue
			echo "--- $(basename "$log")" >&2
			cat "$log" >&2
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "smoke: FAILED: $1" >&2
	exit 1
}

ok() {
	echo "smoke: ok - $1"
}

# Polls (at most $2 tenths of a second) until the command "$1" succeeds; "$1"
# is evaluated each time, hence single-quoted by callers.
wait_until() {
	tries=0
	until eval "$1"; do
		tries=$((tries + 1))
		[ "$tries" -lt "$2" ] || return 1
		sleep 0.1
	done
}

# Fails unless file $1 contains the fixed string $2.
expect() {
	grep -qF -- "$2" "$1" || fail "$3: expected '$2' in: $(cat "$1")"
}

out=$(flow_proxy --version) || fail "--version exited with status $?"
case $out in
"flow-proxy "[0-9]*) ok "--version prints '$out'" ;;
*) fail "--version printed '$out'" ;;
esac

cat >"$tmp/secrets.json" <<'EOF'
[
  { "name": "smoke-a", "clientId": "smoke-client-a", "clientSecret": "smoke-secret-a-5f2d9c", "tenant": "smoke-tenant" },
  { "name": "smoke-b", "clientId": "smoke-client-b", "clientSecret": "smoke-secret-b-81e4aa", "tenant": "smoke-tenant" }
]
EOF
chmod 600 "$tmp/secrets.json"
cat >"$tmp/bad.json" <<'EOF'
[{ "name": "broken", "clientId": "smoke-client-a", "clientSecret": "smoke-secret-a-5f2d9c" }]
EOF
chmod 600 "$tmp/bad.json"
: >"$tmp/empty.env"

code=0
flow_proxy check-secrets --secrets-file "$tmp/secrets.json" >"$tmp/check-good.log" 2>&1 || code=$?
[ "$code" -eq 0 ] || fail "check-secrets on a good file exited with $code: $(cat "$tmp/check-good.log")"
ok "check-secrets accepts a good file"

code=0
flow_proxy check-secrets --secrets-file "$tmp/bad.json" >"$tmp/check-bad.log" 2>&1 || code=$?
[ "$code" -eq 1 ] || fail "check-secrets on a bad file exited with $code, expected 1"
expect "$tmp/check-bad.log" '"tenant"' "check-secrets on a bad file"
ok "check-secrets rejects a bad file (exit 1) and names the field"

code=0
flow_proxy check-secrets --bogus >"$tmp/check-usage.log" 2>&1 || code=$?
[ "$code" -eq 2 ] || fail "check-secrets --bogus exited with $code, expected 2"
ok "check-secrets with a bad flag is a usage error (exit 2)"

"$DENO" run -A "$scripts/smoke_upstream.ts" --secrets-file "$tmp/secrets.json" \
	--port-file "$tmp/upstream.port" >"$tmp/upstream.log" 2>&1 &
upstream_pid=$!
# shellcheck disable=SC2016
wait_until '[ -s "$tmp/upstream.port" ] || ! kill -0 "$upstream_pid" 2>/dev/null' 300 ||
	fail "the mock upstream did not start within 30s"
[ -s "$tmp/upstream.port" ] || fail "the mock upstream exited"
upstream_port=$(cat "$tmp/upstream.port")
upstream=http://127.0.0.1:$upstream_port/flow-llm-proxy

port=${SMOKE_PORT:-$("$DENO" eval 'const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); console.log(l.addr.port); l.close();')}
proxy=http://127.0.0.1:$port

# Not through flow_proxy(): $! must be the proxy itself, not a subshell, for
# the signals below to reach it.
# shellcheck disable=SC2086
$FLOW_PROXY serve --host 127.0.0.1 --port "$port" --secrets-file "$tmp/secrets.json" \
	--upstream "$upstream" --num-workers 2 --db "$tmp/flow-proxy.db" --env-file "$tmp/empty.env" \
	>"$tmp/proxy.log" 2>&1 &
proxy_pid=$!

# Any proxy settings of the caller's environment must not apply to 127.0.0.1.
get() {
	curl --noproxy '*' --silent --show-error --fail --max-time 10 "$@"
}

health() {
	get --output "$tmp/health.json" "$proxy/healthz" 2>/dev/null
}
# shellcheck disable=SC2016
wait_until 'health || ! kill -0 "$proxy_pid" 2>/dev/null' 600 ||
	fail "GET /healthz did not answer 200 within 60s"
kill -0 "$proxy_pid" 2>/dev/null || fail "flow-proxy serve exited"
expect "$tmp/health.json" '"ok"' "GET /healthz"
ok "serve is healthy on $proxy"

get --dump-header "$tmp/models.headers" --output "$tmp/models.json" "$proxy/v1/models" ||
	fail "GET /v1/models through the proxy failed"
expect "$tmp/models.json" '"smoke-model"' "GET /v1/models"
grep -qi '^x-request-id: ' "$tmp/models.headers" || fail "GET /v1/models: no x-request-id header"
ok "reverse mode: GET /v1/models reaches the upstream with a valid JWT"

get --output "$tmp/chat.json" -H 'content-type: application/json' \
	--data '{"model":"smoke-model","messages":[{"role":"user","content":"ping"}]}' \
	"$proxy/v1/chat/completions" || fail "POST /v1/chat/completions through the proxy failed"
expect "$tmp/chat.json" '"smoke-ok: ping"' "POST /v1/chat/completions"
ok "reverse mode: POST /v1/chat/completions"

get --no-buffer --output "$tmp/stream.txt" -H 'content-type: application/json' \
	--data '{"model":"smoke-model","stream":true,"messages":[{"role":"user","content":"stream"}]}' \
	"$proxy/v1/chat/completions" || fail "streaming POST /v1/chat/completions failed"
expect "$tmp/stream.txt" '"content":"smoke-ok: stream"' "streaming chat completion"
expect "$tmp/stream.txt" 'data: [DONE]' "streaming chat completion"
ok "reverse mode: server-sent events pass through"

get --output "$tmp/based.json" "$proxy/flow-llm-proxy/v1/models" ||
	fail "GET /flow-llm-proxy/v1/models through the proxy failed"
expect "$tmp/based.json" '"smoke-model"' "GET with the base path"
ok "reverse mode: a path with the upstream's base path is not doubled"

NO_PROXY='' no_proxy='' curl --silent --show-error --fail --max-time 10 --proxy "$proxy" \
	--output "$tmp/forward.json" "$upstream/v1/models" || fail "forward mode (curl -x) failed"
expect "$tmp/forward.json" '"smoke-model"' "forward mode"
ok "forward mode: curl -x $proxy $upstream/v1/models"

kill -HUP "$proxy_pid"
get --output "$tmp/models-after-hup.json" "$proxy/v1/models" || fail "GET /v1/models after SIGHUP failed"
kill -0 "$proxy_pid" 2>/dev/null || fail "flow-proxy serve exited on SIGHUP"
ok "SIGHUP reloads without stopping the proxy"

# The online backup docs/operations.md recommends, taken while the proxy writes.
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 "$tmp/flow-proxy.db" ".backup '$tmp/backup.db'" || fail "sqlite3 .backup of the live database failed"
	[ "$(sqlite3 "$tmp/backup.db" 'PRAGMA integrity_check')" = ok ] || fail "the backup fails PRAGMA integrity_check"
	ok "sqlite3 .backup copies the live request database"
else
	echo "smoke: skip - sqlite3 .backup (sqlite3 is not installed)"
fi

kill -TERM "$proxy_pid"
# shellcheck disable=SC2016
wait_until '! kill -0 "$proxy_pid" 2>/dev/null' 600 || fail "flow-proxy serve did not stop within 60s of SIGTERM"
code=0
wait "$proxy_pid" || code=$?
proxy_pid=
[ "$code" -eq 0 ] || fail "flow-proxy serve exited with $code after SIGTERM, expected 0"
ok "SIGTERM stops the proxy cleanly (exit 0)"

[ -s "$tmp/flow-proxy.db" ] || fail "no request database at --db $tmp/flow-proxy.db"
if command -v sqlite3 >/dev/null 2>&1; then
	rows=$(sqlite3 "$tmp/flow-proxy.db" 'SELECT count(*) FROM requests') || fail "cannot read the request log"
	[ "$rows" -ge 6 ] || fail "the request log holds $rows requests, expected the 6 proxied ones"
	ok "the request log holds every proxied request ($rows rows)"
fi

echo "smoke: all checks passed"
