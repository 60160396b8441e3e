#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM) on 127.0.0.1,
# resolved from Maven Central with mvn. For local runs and tests; production runs a real cluster.
#
#   deploy/kafka/kafka.sh start|stop|status|classpath
#
# Environment (all optional):
#   LOCAL_KAFKA_DIR              state folder: data, logs, pid (default: deploy/kafka/.state)
#   LOCAL_KAFKA_PORT             client port (default 9092)
#   LOCAL_KAFKA_CONTROLLER_PORT  controller port (default: client port + 1)
#   LOCAL_KAFKA_HEAP             JVM heap options (default "-Xms256m -Xmx768m")
#   LOCAL_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 90)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${LOCAL_KAFKA_DIR:-$here/.state}
port=${LOCAL_KAFKA_PORT:-9092}
controller_port=${LOCAL_KAFKA_CONTROLLER_PORT:-$((port + 1))}
heap=${LOCAL_KAFKA_HEAP:--Xms256m -Xmx768m}
start_timeout=${LOCAL_KAFKA_START_TIMEOUT:-90}
pid_file=$state/kafka.pid
log_file=$state/kafka.log

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH. $2"
}

# The classpath is resolved once per pom.xml content and cached; Maven keeps the jars in ~/.m2.
classpath() {
  need java "Install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)."
  local java_major
  java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ "${java_major:-0}" -ge 17 ] || die "Kafka 4.x needs Java 17 or newer; found Java ${java_major:-unknown}."
  local digest cache
  digest=$(sha256sum "$here/pom.xml" | cut -c1-16)
  cache=$here/.cache/classpath-$digest.txt
  if [ ! -s "$cache" ]; then
    need mvn "Install Apache Maven (Debian: apt-get install maven); it fetches Kafka's jars from Maven Central."
    mkdir -p "$here/.cache"
    say "resolving Apache Kafka's jars with mvn (first run only)"
    mvn -B -q -Dstyle.color=never -f "$here/pom.xml" dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$cache.tmp" >&2 \
      || die "mvn could not resolve org.apache.kafka:kafka_2.13 (see the output above)."
    mv "$cache.tmp" "$cache"
  fi
  cat "$cache"
}

running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_properties() {
  cat >"$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
}

start() {
  if pid=$(running_pid); then
    say "already running (pid $pid) on 127.0.0.1:$(cat "$state/port" 2>/dev/null || echo "$port")"
    return 0
  fi
  port_open "$port" && die "port $port on 127.0.0.1 is taken by another program; set LOCAL_KAFKA_PORT."
  local cp
  cp=$(classpath)
  mkdir -p "$state"
  write_properties
  local java_opts=(-cp "$cp" -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dqalqan.kafka.log=$log_file")
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    java "${java_opts[@]}" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$state/server.properties" >"$state/format.log" 2>&1 \
      || die "formatting KRaft storage failed: $(tail -n 5 "$state/format.log")"
  fi
  # shellcheck disable=SC2086  # heap holds several options
  setsid nohup java $heap -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${java_opts[@]}" \
    kafka.Kafka "$state/server.properties" >"$state/stdout.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  echo "$port" >"$state/port"
  say "starting on 127.0.0.1:$port (pid $!, log $log_file)"
  local waited=0
  until port_open "$port" && grep -q "Kafka Server started" "$log_file" 2>/dev/null; do
    if ! running_pid >/dev/null; then
      die "the broker exited while starting: $(tail -n 20 "$state/stdout.log" "$log_file" 2>/dev/null)"
    fi
    [ "$waited" -lt $((start_timeout * 5)) ] || { stop; die "the broker did not answer within ${start_timeout}s; see $log_file"; }
    sleep 0.2
    waited=$((waited + 1))
  done
  say "ready on 127.0.0.1:$port"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    say "not running"
    rm -f "$pid_file"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "did not stop within 30s; killing pid $pid"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  say "stopped"
}

status() {
  if pid=$(running_pid); then
    say "running (pid $pid) on 127.0.0.1:$(cat "$state/port" 2>/dev/null || echo "$port")"
  else
    say "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  classpath) classpath ;;
  *) echo "usage: $0 start|stop|status|classpath" >&2; exit 2 ;;
esac
