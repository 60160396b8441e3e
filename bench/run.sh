#!/usr/bin/env bash
# The whole benchmark suite in one command (npm run bench): builds dist/, installs the bench-only
# compression codecs on first use, starts a throwaway Kafka broker in a temp dir on free ports,
# runs every case of bench/cases.ts (bench/run.ts), stops the broker, and leaves bench/RESULTS.md,
# bench/throughput.svg and bench/results.json. BENCH_ONLY=case,case runs some cases only (its
# report goes to bench/partial/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)

say() { printf 'bench: %s\n' "$*" >&2; }

if [ ! -d node_modules/autocannon ] || [ ! -d node_modules/kafkajs ]; then
  say "installing npm packages"
  npm install --no-audit --no-fund >&2
fi

say "building dist/ (npx tsc -p tsconfig.json) and bench/ (npx tsc -p bench/tsconfig.json)"
npx tsc -p tsconfig.json
npx tsc -p bench/tsconfig.json

# kafkajs-lz4 and @kafkajs/zstd build native addons from their bundled sources; cppzst (under
# @kafkajs/zstd) needs C++17 to compile against Node 20's headers. A failure is reported in
# RESULTS.md, not fatal: the other cases still run.
if [ ! -d bench/codecs/node_modules/@kafkajs/zstd ] || [ ! -d bench/codecs/node_modules/kafkajs-lz4 ]; then
  say "installing the compression codecs into bench/codecs/ (first run only)"
  (cd bench/codecs && CXXFLAGS=-std=c++17 timeout 600 npm ci --no-audit --no-fund >&2) || say "the codecs did not install; the compression case will say so"
fi

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qalqan-bench.XXXXXX")
export LOCAL_KAFKA_DIR=$tmp/kafka
export LOCAL_KAFKA_PORT=$(free_port)
export LOCAL_KAFKA_CONTROLLER_PORT=$(free_port)
while [ "$LOCAL_KAFKA_CONTROLLER_PORT" = "$LOCAL_KAFKA_PORT" ]; do LOCAL_KAFKA_CONTROLLER_PORT=$(free_port); done
cleanup() {
  bash deploy/kafka/kafka.sh stop || true
  rm -rf "$tmp"
}
trap cleanup EXIT
bash deploy/kafka/kafka.sh start

# The reference server (Go, franz-go from the Go module proxy). Without Go its cases fail with the
# reason, and RESULTS.md says the reference was not measured.
say "building the reference server (go build in bench/reference-server)"
(cd bench/reference-server && go build -o "$tmp/reference-server" .) >&2 || say "the reference server did not build; its cases will fail"

export BENCH_KAFKA_BROKERS=127.0.0.1:$LOCAL_KAFKA_PORT
export BENCH_KAFKA_DIR=$LOCAL_KAFKA_DIR
export BENCH_TMP=$tmp
export BENCH_COMMAND=${BENCH_COMMAND:-npm run bench}
export BENCH_SETUP_SECONDS=$(($(date +%s) - started))
status=0
timeout 900 node dist/bench/run.js || status=$?
say "done in $(($(date +%s) - started)) s (exit $status)"
exit $status
