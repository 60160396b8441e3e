#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting and lint, starts a throwaway
# Kafka broker, type-checks, runs every test against it and the embedded ClickHouse engine, stops
# the broker, and ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing npm packages" >&2
  # npm ci refuses a lock that lacks the engine packages of other platforms, which this registry does not serve
  npm install --no-audit --no-fund >&2
fi

# The situation page's test drives Debian's Chromium; install it when missing and we can.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Chromium for the situation page's browser test (apt-get install chromium)" >&2
    if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; }; }; then
      echo "test: could not install Chromium: the browser test (test/services/query/situation-page.test.ts) will fail" >&2
    fi
  else
    echo "test: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get):" \
      "the browser test (test/services/query/situation-page.test.ts) will fail; install the Debian package chromium" >&2
  fi
fi

echo "test: checking formatting and lint (npx biome ci; npm run format fixes the formatting)" >&2
if ! npx biome ci >&2; then
  echo "test: formatting or lint failed; no test ran" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

state=$(mktemp -d "${TMPDIR:-/tmp}/qalqan-test-kafka.XXXXXX")
export LOCAL_KAFKA_DIR=$state
export LOCAL_KAFKA_PORT=$(free_port)
export LOCAL_KAFKA_CONTROLLER_PORT=$(free_port)
stop_kafka() {
  bash deploy/kafka/kafka.sh stop || true
  rm -rf "$state"
}
trap stop_kafka EXIT
bash deploy/kafka/kafka.sh start
export QALQAN_TEST_KAFKA_BROKERS=127.0.0.1:$LOCAL_KAFKA_PORT

echo "test: building dist/ and type-checking" >&2
if ! npx tsc -p tsconfig.json || ! npx tsc -p tsconfig.test.json; then
  echo "test: the type check failed; no test ran" >&2
  trap - EXIT
  stop_kafka 2>/dev/null
  echo "0 passed, 1 failed"
  exit 1
fi

status=0
mkdir -p .tap
npx tap --reporter=tap "$@" | tee .tap/report.tap || status=$?
trap - EXIT
stop_kafka 2>/dev/null
node test/count-results.mjs .tap/report.tap
exit $status
