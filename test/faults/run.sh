#!/usr/bin/env bash
# The fault suite (npm run faults): Qalqan's guarantees under crashes, outages and hostile input,
# with the collector and the worker as real processes (node dist/services/main.js) so that they
# can be killed with SIGKILL, against a Kafka broker of the suite's own (which some cases kill and
# start again) and, in test/faults/cluster.fault.ts, a three-node cluster that case starts.
# Installs what is missing, builds dist/, runs test/faults/*.fault.ts one at a time, writes each
# case's counts to .tap/faults-summary.md (processes' logs in .tap/faults/), and ends with one line
# "N passed, N failed".
#
#   bash test/faults/run.sh                                  every case
#   bash test/faults/run.sh test/faults/poison.fault.ts      some of them
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
started=$(date +%s)

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "faults: installing npm packages" >&2
  npm install --no-audit --no-fund >&2
fi

# A free port below the kernel's ephemeral range: the cases kill this broker while clients keep
# reconnecting, and one of them could otherwise be given the broker's port as its own and hold it.
free_port() {
  node -e '
    let low = 32768
    try { low = Number(require("fs").readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]) || low } catch {}
    const attempt = () => {
      const port = 10000 + Math.floor(Math.random() * (low - 10000))
      const server = require("net").createServer()
      server.once("error", attempt)
      server.listen(port, "127.0.0.1", () => { console.log(port); server.close() })
    }
    attempt()'
}

state=$(mktemp -d "${TMPDIR:-/tmp}/qalqan-faults-kafka.XXXXXX")
# The cases' ClickHouse folders and the cluster's data: a few hundred MB, gone at the end.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/qalqan-faults.XXXXXX")
export LOCAL_KAFKA_DIR=$state
export LOCAL_KAFKA_PORT=$(free_port)
export LOCAL_KAFKA_CONTROLLER_PORT=$(free_port)
stop_kafka() {
  bash deploy/kafka/kafka.sh stop || true
  # A cluster whose case ended without stopping it (its pid files say which JVMs).
  for cluster in "$scratch"/qalqan-faults-cluster-*; do
    [ ! -d "$cluster" ] || LOCAL_KAFKA_DIR=$cluster bash deploy/kafka/kafka.sh cluster-stop >/dev/null 2>&1 || true
  done
  rm -rf "$state" "$scratch"
}
trap stop_kafka EXIT

# The broker starts while dist/ is built: two JVM-and-compiler starts on two cores.
bash deploy/kafka/kafka.sh start &
broker=$!
echo "faults: building dist/" >&2
built=0
npx tsc -p tsconfig.json || built=$?
broker_status=0
wait "$broker" || broker_status=$?
if [ "$built" -ne 0 ] || [ "$broker_status" -ne 0 ]; then
  [ "$built" -eq 0 ] || echo "faults: the build failed; no case ran" >&2
  [ "$broker_status" -eq 0 ] || echo "faults: the Kafka broker did not start; no case ran" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
export QALQAN_TEST_KAFKA_BROKERS=127.0.0.1:$LOCAL_KAFKA_PORT

mkdir -p .tap
rm -rf .tap/faults .tap/faults-summary.md
cases=("$@")
[ "${#cases[@]}" -gt 0 ] || cases=(test/faults/*.fault.ts)
status=0
TMPDIR=$scratch npx tap --reporter=tap --disable-coverage --jobs=1 --timeout=300 "${cases[@]}" | tee .tap/faults.tap || status=$?
trap - EXIT
stop_kafka 2>/dev/null

echo
echo "Fault suite, $(date -u +%Y-%m-%dT%H:%MZ), $(($(date +%s) - started)) s in all (.tap/faults-summary.md):"
echo
cat .tap/faults-summary.md 2>/dev/null || echo "(no case recorded its counts)"
echo
node test/count-results.mjs .tap/faults.tap
exit $status
