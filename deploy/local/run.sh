#!/usr/bin/env bash
# Starts Qalqan locally with nothing but Node.js, Java 17 and Maven: installs the npm packages,
# builds, starts a real Kafka broker from Apache's jars, runs every role in one process over the
# embedded ClickHouse engine, posts sample events and shows the aggregates coming back.
# Stays up until Ctrl-C (then stops everything); DEMO_EXIT=1 stops right after the demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "local: installing npm packages"
  # npm ci refuses a lock that lacks the engine packages of other platforms, which this registry does not serve
  npm install --no-audit --no-fund
fi
echo "local: building"
npx tsc -p tsconfig.json

export LOCAL_KAFKA_PORT=${LOCAL_KAFKA_PORT:-9092}
export QALQAN_KAFKA_BROKERS=127.0.0.1:$LOCAL_KAFKA_PORT
export QALQAN_TOKENS_FILE=${QALQAN_TOKENS_FILE:-deploy/local/tokens.json}
export QALQAN_DATA_DIR=${QALQAN_DATA_DIR:-data/local}
export QALQAN_COLLECTOR_PORT=${QALQAN_COLLECTOR_PORT:-8080}
export QALQAN_QUERY_PORT=${QALQAN_QUERY_PORT:-8081}
export QALQAN_OPS_PORT=${QALQAN_OPS_PORT:-8083}
mkdir -p "$QALQAN_DATA_DIR"
log=$QALQAN_DATA_DIR/qalqan.log

healthy() {
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

bash deploy/kafka/kafka.sh start
qalqan_pid=
stop_all() {
  if [ -n "$qalqan_pid" ] && kill -0 "$qalqan_pid" 2>/dev/null; then
    echo "local: stopping Qalqan"
    kill -TERM "$qalqan_pid"
    wait "$qalqan_pid" 2>/dev/null || true
  fi
  bash deploy/kafka/kafka.sh stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM

node dist/services/main.js --role=all >>"$log" 2>&1 &
qalqan_pid=$!
echo "local: Qalqan starting (pid $qalqan_pid, log $log)"
for _ in $(seq 1 120); do
  if healthy "http://127.0.0.1:$QALQAN_COLLECTOR_PORT/healthz" && healthy "http://127.0.0.1:$QALQAN_QUERY_PORT/healthz"; then
    break
  fi
  kill -0 "$qalqan_pid" 2>/dev/null || { echo "local: Qalqan exited while starting:"; tail -n 20 "$log"; exit 1; }
  sleep 0.5
done

DEMO_COLLECTOR_URL=http://127.0.0.1:$QALQAN_COLLECTOR_PORT DEMO_QUERY_URL=http://127.0.0.1:$QALQAN_QUERY_PORT node dist/deploy/local/demo.js

cat <<MSG

Qalqan is running:
  collector  http://127.0.0.1:$QALQAN_COLLECTOR_PORT/v1/events     (sensor token, e.g. demo-sensor-token-astana-egov)
  query API  http://127.0.0.1:$QALQAN_QUERY_PORT/docs          (analyst token demo-analyst-token)
  ops        http://127.0.0.1:$QALQAN_OPS_PORT/metrics        (and /readyz with reasons; plain HTTP here: no certificate)
  Kafka      127.0.0.1:$LOCAL_KAFKA_PORT
  log        $log

Situation page (map, sectors, source countries; signs in with the demo analyst token, which the
page keeps for this browser tab only):
  http://127.0.0.1:$QALQAN_QUERY_PORT/#token=demo-analyst-token
MSG
if [ "${DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo "Press Ctrl-C to stop."
wait "$qalqan_pid"
