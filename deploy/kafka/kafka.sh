#!/usr/bin/env bash
# A real Apache Kafka 4.x on 127.0.0.1 (KRaft, broker and controller in each JVM), resolved from
# Maven Central with mvn. For local runs and tests; production runs a real cluster.
#
#   deploy/kafka/kafka.sh start|stop|status|classpath|kill        one node (local runs, npm test)
#   deploy/kafka/kafka.sh start-secure                             one node whose client port speaks SASL_SSL
#   deploy/kafka/kafka.sh cluster-start|cluster-stop|cluster-status
#   deploy/kafka/kafka.sh kill-node N|start-node N                 nodes 1..LOCAL_KAFKA_NODES
#
# `kill` and `kill-node` end a node with SIGKILL, as a crash would (the fault drills use them).
# The cluster: LOCAL_KAFKA_NODES JVMs (3 by default), each a broker and a controller, a quorum of
# all of them, and replication as production has it: replication factor 3 for new and internal
# topics, min.insync.replicas 2 (with fewer than three nodes: all of them, and one fewer).
#
# Environment (all optional):
#   LOCAL_KAFKA_DIR              state folder: data, logs, pid (default: deploy/kafka/.state);
#                                the cluster keeps node N in LOCAL_KAFKA_DIR/node-N
#   LOCAL_KAFKA_PORT             client port; the cluster's node N listens on this port + N - 1 (default 9092)
#   LOCAL_KAFKA_CONTROLLER_PORT  controller port (default: client port + 1); the cluster's node N
#                                on this port + N - 1 (default: client port + LOCAL_KAFKA_NODES)
#   LOCAL_KAFKA_NODES            nodes of the cluster, 1 to 9 (default 3)
#   LOCAL_KAFKA_HEAP             JVM heap options (default "-Xms256m -Xmx768m"; each cluster node "-Xms128m -Xmx384m")
#   LOCAL_KAFKA_START_TIMEOUT    seconds to wait for a node to answer (default 90)
#   LOCAL_KAFKA_SASL             1: the single node's client port is SASL_SSL, as a managed or Strimzi
#                                cluster's is (the same as start-secure). At its first start it makes
#                                a CA, the broker's certificate (127.0.0.1, localhost) and a client
#                                certificate in LOCAL_KAFKA_DIR/tls, and the user "qalqan" for PLAIN,
#                                SCRAM-SHA-256 and SCRAM-SHA-512 with the password in
#                                LOCAL_KAFKA_DIR/sasl/qalqan.password (LOCAL_KAFKA_SASL_PASSWORD, else random);
#                                client certificates are checked when sent (ssl.client.auth=requested)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${LOCAL_KAFKA_DIR:-$here/.state}
base_port=${LOCAL_KAFKA_PORT:-9092}
nodes=${LOCAL_KAFKA_NODES:-3}
start_timeout=${LOCAL_KAFKA_START_TIMEOUT:-90}
secure=false
[ "${LOCAL_KAFKA_SASL:-}" != 1 ] || secure=true
[ "${1:-}" != start-secure ] || secure=true

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH. $2"
}

# The node the commands act on: the single node by default, node N of the cluster after use_node N.
node_id=1
dir=$state
port=$base_port
controller_port=${LOCAL_KAFKA_CONTROLLER_PORT:-$((base_port + 1))}
heap=${LOCAL_KAFKA_HEAP:--Xms256m -Xmx768m}
pid_file=$dir/kafka.pid
log_file=$dir/kafka.log
cluster=false
who='the broker'

use_node() {
  local n=$1
  [[ "$nodes" =~ ^[1-9]$ ]] || die "LOCAL_KAFKA_NODES=$nodes: must be a number of nodes from 1 to 9"
  [[ "$n" =~ ^[1-9]$ ]] && [ "$n" -le "$nodes" ] || die "no node \"$n\": the cluster has nodes 1 to $nodes (LOCAL_KAFKA_NODES)"
  local controller_base=${LOCAL_KAFKA_CONTROLLER_PORT:-$((base_port + nodes))}
  if [ "$controller_base" -lt $((base_port + nodes)) ] && [ $((controller_base + nodes)) -gt "$base_port" ]; then
    die "the cluster's client ports $base_port-$((base_port + nodes - 1)) overlap its controller ports $controller_base-$((controller_base + nodes - 1)): set LOCAL_KAFKA_CONTROLLER_PORT to $((base_port + nodes)) or unset it"
  fi
  cluster=true
  who="node $n"
  node_id=$n
  dir=$state/node-$n
  port=$((base_port + n - 1))
  controller_port=$((controller_base + n - 1))
  heap=${LOCAL_KAFKA_HEAP:--Xms128m -Xmx384m}
  pid_file=$dir/kafka.pid
  log_file=$dir/kafka.log
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

# Kafka's own random ids never start with "-" (its command-line tools would read one as an option):
# one in 64 of these would, so those are drawn again.
new_uuid() {
  local id=-
  while [[ $id == -* ]]; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  echo "$id"
}

write_properties() {
  local quorum=127.0.0.1:$controller_port replication=1 min_isr=1
  if $cluster; then
    quorum=$(for n in $(seq 1 "$nodes"); do printf '127.0.0.1:%d,' $((controller_port - node_id + n)); done)
    quorum=${quorum%,}
    replication=$((nodes < 3 ? nodes : 3))
    min_isr=$((replication > 1 ? replication - 1 : 1))
  fi
  local listener=PLAINTEXT
  if $secure && ! $cluster; then listener=SASL_SSL; fi
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$node_id
controller.quorum.bootstrap.servers=$quorum
listeners=$listener://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listener://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=$listener
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$listener:$listener
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$replication
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replication
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$replication
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  if $cluster; then
    # A follower that stopped answering leaves the in-sync replicas after 10 s rather than 30 s, so
    # a write with acks=all waits that long at most when a node dies.
    echo "replica.lag.time.max.ms=10000" >>"$dir/server.properties"
  fi
  if [ "$listener" = SASL_SSL ]; then write_secure_properties; fi
}

# TLS from PEM files (ssl.keystore.type=PEM: no Java keystore); PLAIN users are the JAAS line's
# user_NAME entries, SCRAM users are stored in the metadata log at format time (format_storage).
write_secure_properties() {
  local password admin
  password=$(cat "$dir/sasl/qalqan.password")
  admin=$(cat "$dir/sasl/admin.password")
  cat >>"$dir/server.properties" <<PROPS
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin" user_qalqan="$password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.pem
ssl.client.auth=requested
PROPS
}

# A CA, the broker's certificate and a client certificate signed by it, and the passwords, made once.
make_secrets() {
  need openssl "Install OpenSSL (Debian: apt-get install openssl); it makes the broker's certificates."
  mkdir -p "$dir/tls" "$dir/sasl"
  chmod 700 "$dir/tls" "$dir/sasl"
  if [ ! -s "$dir/sasl/qalqan.password" ]; then
    # It goes into a JAAS line and the storage tool's SCRAM argument, which quote nothing.
    [[ "${LOCAL_KAFKA_SASL_PASSWORD:-x}" =~ ^[A-Za-z0-9._-]+$ ]] \
      || die "LOCAL_KAFKA_SASL_PASSWORD: use letters, digits, '.', '_' and '-' only"
    printf '%s\n' "${LOCAL_KAFKA_SASL_PASSWORD:-$(head -c18 /dev/urandom | base64 | tr -d '+/=')}" >"$dir/sasl/qalqan.password"
    head -c18 /dev/urandom | base64 | tr -d '+/=' >"$dir/sasl/admin.password"
  fi
  [ ! -s "$dir/tls/broker-keystore.pem" ] || return 0
  local tls=$dir/tls
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Qalqan local Kafka CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>"$tls/openssl.log" \
    || die "openssl could not make the CA: $(cat "$tls/openssl.log")"
  local name
  for name in broker client; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$tls/$name.key" -out "$tls/$name.csr" \
      2>>"$tls/openssl.log" || die "openssl could not make the $name key: $(cat "$tls/openssl.log")"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$tls/$name.ext"
    openssl x509 -req -days 825 -in "$tls/$name.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
      -extfile "$tls/$name.ext" -out "$tls/$name.pem" 2>>"$tls/openssl.log" \
      || die "openssl could not sign the $name certificate: $(cat "$tls/openssl.log")"
  done
  # Kafka's PEM keystore: the private key (PKCS#8) and the certificate in one file.
  cat "$tls/broker.key" "$tls/broker.pem" >"$tls/broker-keystore.pem"
  chmod 600 "$tls"/*.key "$tls/broker-keystore.pem"
}

java_options() {
  java_opts=(-cp "$1" -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dqalqan.kafka.log=$log_file")
}

# Formats the node's storage on first use: the single node as a quorum of one; a cluster node with
# the cluster's id and every controller, as the cluster's first start recorded them.
format_storage() {
  [ ! -f "$dir/data/meta.properties" ] || return 0
  local format_args=(--standalone -t "$(new_uuid)")
  if $cluster; then
    format_args=(--initial-controllers "$(cat "$state/initial-controllers")" -t "$(cat "$state/cluster-id")")
  elif $secure; then
    local password
    password=$(cat "$dir/sasl/qalqan.password")
    format_args+=(-S "SCRAM-SHA-256=[name=qalqan,password=$password]" -S "SCRAM-SHA-512=[name=qalqan,password=$password]")
  fi
  java "${java_opts[@]}" kafka.tools.StorageTool format "${format_args[@]}" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
    || die "formatting KRaft storage of $who failed: $(tail -n 5 "$dir/format.log")"
}

# Starts the node's JVM and returns at once; wait_started waits for it.
launch() {
  port_open "$port" && die "port $port on 127.0.0.1 is taken by another program; set LOCAL_KAFKA_PORT."
  port_open "$controller_port" \
    && die "controller port $controller_port on 127.0.0.1 is taken by another program; set LOCAL_KAFKA_CONTROLLER_PORT."
  mkdir -p "$dir"
  if $secure && ! $cluster; then make_secrets; fi
  write_properties
  java_options "$1"
  format_storage
  # Only what the log says after this start counts: the log of an earlier run holds "started" too.
  stat -c %s "$log_file" >"$dir/log-offset" 2>/dev/null || echo 0 >"$dir/log-offset"
  # shellcheck disable=SC2086  # heap holds several options
  setsid nohup java $heap -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${java_opts[@]}" \
    kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  echo "$port" >"$dir/port"
  say "starting $who on 127.0.0.1:$port (pid $!, log $log_file)"
}

# grep -c reads to the end: grep -q would stop at the first match and, under pipefail, turn the
# SIGPIPE of a tail still writing (a restart logs megabytes before the line) into "not started".
started_in_log() {
  local from
  from=$(($(cat "$dir/log-offset" 2>/dev/null || echo 0) + 1))
  [ "$(tail -c +"$from" "$log_file" 2>/dev/null | grep -c "Kafka Server started")" -gt 0 ]
}

wait_started() {
  local waited=0
  until port_open "$port" && started_in_log; do
    if ! running_pid >/dev/null; then
      die "$who exited while starting: $(tail -n 20 "$dir/stdout.log" "$log_file" 2>/dev/null)"
    fi
    [ "$waited" -lt $((start_timeout * 5)) ] \
      || { stop; die "$who did not answer within ${start_timeout}s; see $log_file"; }
    sleep 0.2
    waited=$((waited + 1))
  done
  say "ready on 127.0.0.1:$port"
}

start() {
  if pid=$(running_pid); then
    say "already running (pid $pid) on 127.0.0.1:$(cat "$dir/port" 2>/dev/null || echo "$port")"
    return 0
  fi
  local cp
  cp=$(classpath)
  launch "$cp"
  wait_started
  if $secure && ! $cluster; then
    say "SASL_SSL: QALQAN_KAFKA_SECURITY_PROTOCOL=SASL_SSL QALQAN_KAFKA_SASL_MECHANISM=SCRAM-SHA-512 (or SCRAM-SHA-256, PLAIN)"
    say "          QALQAN_KAFKA_SASL_USERNAME=qalqan QALQAN_KAFKA_SASL_PASSWORD_FILE=$dir/sasl/qalqan.password"
    say "          QALQAN_KAFKA_CA_FILE=$dir/tls/ca.pem (mutual TLS: QALQAN_KAFKA_CERT_FILE=$dir/tls/client.pem QALQAN_KAFKA_KEY_FILE=$dir/tls/client.key)"
  fi
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

# SIGKILL: no controlled shutdown, no flush; returns once the process is gone.
kill_now() {
  local pid
  if ! pid=$(running_pid); then
    say "$who is not running"
    return 0
  fi
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$pid_file"
  say "$who killed (SIGKILL, pid $pid)"
}

status() {
  if pid=$(running_pid); then
    say "running (pid $pid) on 127.0.0.1:$(cat "$dir/port" 2>/dev/null || echo "$port")"
  else
    say "not running"
    return 3
  fi
}

cluster_start() {
  local cp n launched=()
  cp=$(classpath)
  mkdir -p "$state"
  if [ ! -f "$state/cluster-id" ]; then
    local voters=''
    for n in $(seq 1 "$nodes"); do
      use_node "$n"
      voters+="$n@127.0.0.1:$controller_port:$(new_uuid),"
    done
    echo "${voters%,}" >"$state/initial-controllers"
    new_uuid >"$state/cluster-id"
  fi
  for n in $(seq 1 "$nodes"); do
    use_node "$n"
    if pid=$(running_pid); then
      say "node $n already running (pid $pid) on 127.0.0.1:$port"
      continue
    fi
    launch "$cp"
    launched+=("$n")
  done
  # The nodes elect a controller among themselves: each waits for the others, so all start first.
  for n in "${launched[@]}"; do
    use_node "$n"
    wait_started
  done
  say "cluster of $nodes ready on $(cluster_brokers)"
}

cluster_brokers() {
  local list=''
  for n in $(seq 1 "$nodes"); do list+="127.0.0.1:$((base_port + n - 1)),"; done
  echo "${list%,}"
}

cluster_stop() {
  local n pids=()
  for n in $(seq 1 "$nodes"); do
    use_node "$n"
    if pid=$(running_pid); then
      kill "$pid"
      pids+=("$pid")
    fi
    rm -f "$pid_file"
  done
  # Stopped together, the last nodes wait for a quorum that is leaving: SIGKILL after 30 s.
  for _ in $(seq 1 150); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 1 ] || break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid did not stop within 30s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  say "cluster stopped"
}

cluster_status() {
  local n up=0
  for n in $(seq 1 "$nodes"); do
    use_node "$n"
    if pid=$(running_pid); then
      say "node $n running (pid $pid) on 127.0.0.1:$port"
      up=$((up + 1))
    else
      say "node $n not running"
    fi
  done
  say "$up of $nodes nodes running; brokers $(cluster_brokers)"
  [ "$up" -eq "$nodes" ] || return 3
}

node_number() {
  [ -n "${1:-}" ] || die "name the node: $2 N, N from 1 to $nodes"
  use_node "$1"
}

case "${1:-}" in
  start | start-secure) start ;;
  stop) stop ;;
  status) status ;;
  classpath) classpath ;;
  kill) kill_now ;;
  cluster-start) cluster_start ;;
  cluster-stop) cluster_stop ;;
  cluster-status) cluster_status ;;
  kill-node)
    node_number "${2:-}" kill-node
    kill_now
    ;;
  start-node)
    node_number "${2:-}" start-node
    [ -f "$state/cluster-id" ] || die "no cluster in $state: start it with cluster-start first"
    start
    ;;
  *)
    echo "usage: $0 start|stop|status|classpath|kill|start-secure" >&2
    echo "       $0 cluster-start|cluster-stop|cluster-status|kill-node N|start-node N" >&2
    exit 2
    ;;
esac
