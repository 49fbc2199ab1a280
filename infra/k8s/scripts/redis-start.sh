#!/bin/sh
# Start-up script of the Redis and Sentinel pods (infra/k8s). POSIX sh + awk + redis-cli, so it runs in the
# official redis image and, in the tests, against loopback processes: every host, port and path comes from
# the environment.
#
#   redis-start.sh redis    [extra redis-server args]   start a Redis node
#   redis-start.sh sentinel [extra redis-server args]   start a Sentinel
#   redis-start.sh handoff                              before a Redis node stops (the pod's preStop hook): if
#                                                       it is the master, hand the role to a replica first
#
# Both modes first copy the rendered config template to a writable file, replacing every __SECRET_NAME__
# placeholder with the value of the environment variable NAME (filled from a Kubernetes Secret), so that no
# secret is ever stored in a ConfigMap. Then they find the current master:
#   redis:    ask the Sentinels; if none answers, ask them again, every 0.2 s, for up to
#             REDIS_SENTINEL_WAIT_SECONDS; only then ask the other Redis nodes which one is a master (or,
#             when none says so, which master a replica is connected to); if none knows, the bootstrap
#             node (pod 0) is the master. Whenever a Sentinel answers, the
#             node takes the role it names: a node the Sentinels do not name as master starts as a
#             replica of the one they name, so a former master restarted after a failover rejoins as a
#             replica (also while the Sentinels are down: the nodes know).
#   sentinel: ask the other Sentinels; else ask the Redis nodes which one is a master (or which master a
#             connected replica follows); else the master
#             this Sentinel last knew (the `sentinel monitor` line of the config it wrote in its previous
#             run, which Sentinel rewrites on a failover); only a fresh Sentinel (no saved config) takes
#             the bootstrap node.
# Both: a master that is not one of REDIS_ADDRESSES (a Sentinel's, saved or live, from before the nodes'
# addresses or ports changed) is ignored: it names no node of this stack.
# Why the wait and the saved config: when every node and every Sentinel restart at once (a reboot of
# the Docker host, a whole-cluster restart) no one answers anybody at first. Falling back to pod 0 then
# would make a pod 0 that missed writes (it was down while another node was master) the master, and the
# others would resynchronise from it: those writes would be gone from every node. Instead the Sentinels
# come up within seconds and name the master they had saved, and the nodes, still asking, follow them.
#
# Environment (both modes):
#   REDIS_MASTER_NAME            Sentinel master group name
#   SENTINEL_ADDRESSES           host:port of every Sentinel, separated by spaces or commas
#   REDIS_BOOTSTRAP_MASTER_HOST  the node that is master when no one knows better (pod 0)
#   REDIS_BOOTSTRAP_MASTER_PORT
#   REDIS_QUERY_USER             ACL user this script authenticates as when it asks Sentinels and Redis nodes
#   REDIS_QUERY_PASSWORD         its password — or REDIS_QUERY_PASSWORD_FILE, a file holding it (not shown by
#                                `docker inspect`, as the environment is)
#   REDIS_QUERY_TIMEOUT_SECONDS  bound on each question @default 3
#   REDIS_CLI                    @default redis-cli
#   REDIS_SERVER                 @default redis-server
# redis mode:
#   REDIS_CONFIG_TEMPLATE, REDIS_CONFIG_FILE  template (read-only) and the file written and run
#   REDIS_ANNOUNCE_HOST, REDIS_PORT           how the other nodes and the Sentinels reach this node
#   REDIS_ADDRESSES              host:port of every Redis node (asked when no Sentinel answers; a master not
#                                among them is ignored). Needed in sentinel mode too.
#   REDIS_SENTINEL_WAIT_SECONDS  how long to keep asking the Sentinels when none answers at first, before
#                                the node falls back to the other nodes and to the bootstrap node (0: no
#                                wait); the last round may overrun it by a question's timeout per Sentinel
#                                that does not reply. Every start with every Sentinel down (first start,
#                                Sentinels stopped) is this much slower. @default 30
# handoff mode (REDIS_ANNOUNCE_HOST and REDIS_PORT as in redis mode):
#   REDIS_ADMIN_USER, REDIS_ADMIN_PASSWORD  the ACL user that may pause writes and ask a Sentinel to fail over
#   REDIS_HANDOFF_SECONDS        bound of the whole handoff (half of it for the replicas to catch up); within the
#                                pod's terminationGracePeriod @default 20
#   REDIS_HANDOFF_LOG            file its lines are appended to (Kubernetes: /proc/1/fd/2, the container's log)
#                                @default standard error
#   Why: a rollout (or a drain) stops the pods in its own order, whatever their role. Stopped while master, a node
#   would be failed over only once the Sentinels see it gone (down-after-milliseconds), writes failing meanwhile.
#   Instead: writes are paused on it (CLIENT PAUSE WRITE: none is acknowledged that a replica lacks), it waits for
#   its replicas to hold all it has, asks a Sentinel for a failover (SENTINEL FAILOVER), and once that Sentinel names
#   the promoted replica, makes itself its replica (REPLICAOF) and lets the paused writes go (they are refused now,
#   READONLY: the API answers 503, retried by the client); only then does the pod stop. A node that is no master, or has no replica, or
#   whose Sentinels refuse, just stops (the ordinary failover then follows).
# sentinel mode:
#   SENTINEL_CONFIG_TEMPLATE     template (read-only)
#   SENTINEL_CONFIG_FILE         the file written and run; Sentinel rewrites it at run time (current
#                                master, epochs), so it must be on a volume that survives a restart: the
#                                next start reads the master and the epochs it saved
#   SENTINEL_ANNOUNCE_HOST, SENTINEL_PORT     how the other Sentinels and the clients reach this Sentinel
set -eu

log() { echo "redis-start: $*" >&2; }
fail() { log "error: $*"; exit 1; }
need() { eval "v=\${$1:-}"; [ -n "$v" ] || fail "environment variable $1 is not set"; }

CLI=${REDIS_CLI:-redis-cli}
SERVER=${REDIS_SERVER:-redis-server}
QUERY_TIMEOUT=${REDIS_QUERY_TIMEOUT_SECONDS:-3}
SENTINEL_WAIT=${REDIS_SENTINEL_WAIT_SECONDS:-30}

# render TEMPLATE OUT: copy TEMPLATE to OUT replacing __SECRET_NAME__ with $NAME; a missing variable is an error.
# awk (not sed) so that a password may hold any character but a newline.
render() {
  awk '
    {
      line = $0; out = ""
      while (match(line, /__SECRET_[A-Z0-9]+(_[A-Z0-9]+)*__/)) {
        name = substr(line, RSTART + 9, RLENGTH - 11)
        if (!(name in ENVIRON) || ENVIRON[name] == "") { print "missing " name > "/dev/stderr"; exit 3 }
        out = out substr(line, 1, RSTART - 1) ENVIRON[name]
        line = substr(line, RSTART + RLENGTH)
      }
      print out line
    }' "$1" > "$2.tmp" || fail "cannot render $1: an environment variable named in it is not set"
  chmod 600 "$2.tmp"
  mv "$2.tmp" "$2"
}

# as_user USER PASSWORD HOST PORT ARGS...: one bounded redis-cli question, authenticated as USER; prints the raw
# reply, exits as timeout does (124 when the question ran out of time).
as_user() {
  u=$1; pw=$2; h=$3; p=$4; shift 4
  REDISCLI_AUTH="$pw" timeout "$QUERY_TIMEOUT" \
    "$CLI" --no-auth-warning --raw --user "$u" -h "$h" -p "$p" "$@" 2>/dev/null
}

# ask HOST PORT ARGS...: as the query user.
ask() { as_user "$REDIS_QUERY_USER" "$REDIS_QUERY_PASSWORD" "$@"; }

# admin HOST PORT ARGS...: as the admin user (handoff mode).
admin() { as_user "$REDIS_ADMIN_USER" "$REDIS_ADMIN_PASSWORD" "$@"; }

# nap SECONDS: a short pause between questions (whole seconds where sleep takes no fraction, which POSIX does
# not require).
nap() { sleep "$1" 2>/dev/null || sleep 1; }

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# is_node "HOST PORT": whether HOST:PORT is one of REDIS_ADDRESSES (always, when they are not given). A master
# that is not names no node of this stack: one a Sentinel saved, or still knows, from before the nodes' addresses
# or ports were changed. Following it, every node would start as the replica of an address where nothing runs.
is_node() {
  [ -n "${REDIS_ADDRESSES:-}" ] || return 0
  for node in $(echo "$REDIS_ADDRESSES" | tr ',' ' '); do
    [ "$node" = "${1% *}:${1##* }" ] && return 0
  done
  return 1
}

# master_from_sentinels [SKIP_ADDRESS]: prints "host port" of the master named by the first Sentinel that knows it.
master_from_sentinels() {
  for addr in $(echo "$SENTINEL_ADDRESSES" | tr ',' ' '); do
    [ "$addr" = "${1:-}" ] && continue
    reply=$(ask "${addr%:*}" "${addr##*:}" SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME") || continue
    mh=$(echo "$reply" | sed -n 1p)
    mp=$(echo "$reply" | sed -n 2p)
    if [ -n "$mh" ] && is_uint "$mp"; then
      if ! is_node "$mh $mp"; then
        log "sentinel $addr names $mh:$mp, which is not a redis node of this stack (REDIS_ADDRESSES): ignored"
        continue
      fi
      log "sentinel $addr names $mh:$mp as master"
      echo "$mh $mp"
      return 0
    fi
  done
  return 1
}

# master_from_sentinels_within SECONDS: asks the Sentinels again, every 0.2 s, until one names a master or
# SECONDS have passed. Often: the Sentinels start pinging the master they name as soon as they are up,
# and one that stays silent longer than down-after-milliseconds is failed over.
master_from_sentinels_within() {
  deadline=$(($(date +%s) + $1))
  log "no sentinel answers: asking them again for up to $1 s"
  while [ "$(date +%s)" -lt "$deadline" ]; do
    nap 0.2
    master_from_sentinels && return 0
  done
  return 1
}

# master_from_nodes [SKIP_ADDRESS]: prints "host port" of the master the other Redis nodes name: the first that
# reports role:master, else the master a replica reports a live link to (master_link_status:up). The replicas
# matter when the master itself does not answer in time (busy, a slow fork): falling through to the bootstrap
# node would then start a second master beside the real one.
master_from_nodes() {
  followed=""
  replicas=" "
  for addr in $(echo "${REDIS_ADDRESSES:-}" | tr ',' ' '); do
    [ "$addr" = "${1:-}" ] && continue
    info=$(ask "${addr%:*}" "${addr##*:}" INFO replication | tr -d '\r') || continue
    role=$(echo "$info" | sed -n 's/^role://p')
    if [ "$role" = "master" ]; then
      log "redis node $addr reports role:master"
      echo "${addr%:*} ${addr##*:}"
      return 0
    fi
    [ "$role" = "slave" ] || continue
    replicas="$replicas$addr "
    if [ -z "$followed" ] && [ "$(echo "$info" | sed -n 's/^master_link_status://p')" = "up" ]; then
      fh=$(echo "$info" | sed -n 's/^master_host://p')
      fp=$(echo "$info" | sed -n 's/^master_port://p')
      if [ -n "$fh" ] && is_uint "$fp" && is_node "$fh $fp"; then followed="$addr $fh $fp"; fi
    fi
  done
  [ -n "$followed" ] || return 1
  set -- "${1:-}" $followed
  # Not this node itself (a link to it that has not timed out yet), nor a node that just said it is a replica.
  case "$replicas" in *" $3:$4 "*) return 1 ;; esac
  [ "$3:$4" = "$1" ] && return 1
  log "no redis node reports role:master; redis node $2 replicates $3:$4 (link up)"
  echo "$3 $4"
}

need REDIS_MASTER_NAME
need SENTINEL_ADDRESSES
need REDIS_BOOTSTRAP_MASTER_HOST
need REDIS_BOOTSTRAP_MASTER_PORT
need REDIS_QUERY_USER
if [ -n "${REDIS_QUERY_PASSWORD_FILE:-}" ]; then
  REDIS_QUERY_PASSWORD=$(cat "$REDIS_QUERY_PASSWORD_FILE") || fail "cannot read REDIS_QUERY_PASSWORD_FILE ($REDIS_QUERY_PASSWORD_FILE)"
fi
need REDIS_QUERY_PASSWORD

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
redis)
  need REDIS_CONFIG_TEMPLATE
  need REDIS_CONFIG_FILE
  need REDIS_ANNOUNCE_HOST
  need REDIS_PORT
  is_uint "$SENTINEL_WAIT" || fail "REDIS_SENTINEL_WAIT_SECONDS must be a whole number of seconds, not '$SENTINEL_WAIT'"
  render "$REDIS_CONFIG_TEMPLATE" "$REDIS_CONFIG_FILE.rendered"
  # The Sentinels first, and for a while: on a restart of everything they are the ones that know (their
  # saved config) and they come up within seconds; the nodes know nothing until one of them has decided.
  if master=$(master_from_sentinels); then :
  elif [ "$SENTINEL_WAIT" -gt 0 ] && master=$(master_from_sentinels_within "$SENTINEL_WAIT"); then :
  elif master=$(master_from_nodes "$REDIS_ANNOUNCE_HOST:$REDIS_PORT"); then :
  else
    master="$REDIS_BOOTSTRAP_MASTER_HOST $REDIS_BOOTSTRAP_MASTER_PORT"
    log "neither a sentinel nor another node names a master: bootstrap node $master is the master"
  fi
  # Drop whatever role the template states; this script decides it.
  grep -v -i -E '^[[:space:]]*(replicaof|slaveof|replica-announce-ip|replica-announce-port)[[:space:]]' \
    "$REDIS_CONFIG_FILE.rendered" > "$REDIS_CONFIG_FILE.tmp" || true
  rm -f "$REDIS_CONFIG_FILE.rendered"
  {
    echo ""
    echo "# added by redis-start.sh"
    echo "replica-announce-ip $REDIS_ANNOUNCE_HOST"
    echo "replica-announce-port $REDIS_PORT"
    if [ "$master" = "$REDIS_ANNOUNCE_HOST $REDIS_PORT" ]; then
      log "starting as master"
    else
      log "starting as replica of $master"
      echo "replicaof $master"
    fi
  } >> "$REDIS_CONFIG_FILE.tmp"
  chmod 600 "$REDIS_CONFIG_FILE.tmp"
  mv "$REDIS_CONFIG_FILE.tmp" "$REDIS_CONFIG_FILE"
  exec "$SERVER" "$REDIS_CONFIG_FILE" "$@"
  ;;
sentinel)
  need SENTINEL_CONFIG_TEMPLATE
  need SENTINEL_CONFIG_FILE
  need SENTINEL_ANNOUNCE_HOST
  need SENTINEL_PORT
  # What this Sentinel saved in its previous run (none on a first start): the master it last monitored,
  # and its epochs.
  saved=""
  if [ -f "$SENTINEL_CONFIG_FILE" ]; then
    saved=$(awk -v name="$REDIS_MASTER_NAME" '
      tolower($1) == "sentinel" && tolower($2) == "monitor" && $3 == name && $5 ~ /^[0-9]+$/ { print $4, $5; exit }' \
      "$SENTINEL_CONFIG_FILE") || saved=""
  fi
  if [ -n "$saved" ] && ! is_node "$saved"; then
    log "the master this sentinel last knew, ${saved% *}:${saved##* }, is not a redis node of this stack (REDIS_ADDRESSES): ignored"
    saved=""
  fi
  render "$SENTINEL_CONFIG_TEMPLATE" "$SENTINEL_CONFIG_FILE.rendered"
  if master=$(master_from_sentinels "$SENTINEL_ANNOUNCE_HOST:$SENTINEL_PORT"); then :
  elif master=$(master_from_nodes); then :
  elif [ -n "$saved" ]; then
    master=$saved
    log "neither a sentinel nor a redis node names a master: $master, the master this sentinel last knew (its saved config)"
  else
    master="$REDIS_BOOTSTRAP_MASTER_HOST $REDIS_BOOTSTRAP_MASTER_PORT"
    log "neither a sentinel nor a redis node names a master and there is no saved config: bootstrap node $master"
  fi
  log "monitoring $master as $REDIS_MASTER_NAME"
  # Epochs carried over from the saved config. current-epoch and leader-epoch: Sentinel saves its vote
  # before it answers one, so that after a restart it does not vote a second time in the same epoch (two
  # leaders, two failovers). config-epoch, only when it still monitors the master it saved: it is the
  # version of that master's address, so a Sentinel that missed a failover adopts the newer address the
  # others announce (a higher config-epoch) instead of all staying at 0 and never agreeing.
  epochs=""
  if [ -f "$SENTINEL_CONFIG_FILE" ]; then
    epochs=$(awk -v name="$REDIS_MASTER_NAME" -v same="$([ "$master" = "$saved" ] && echo 1 || echo 0)" '
      tolower($1) != "sentinel" { next }
      tolower($2) == "current-epoch" && $3 ~ /^[0-9]+$/ { print "sentinel current-epoch " $3 }
      tolower($2) == "leader-epoch" && $3 == name && $4 ~ /^[0-9]+$/ { print "sentinel leader-epoch " name " " $4 }
      tolower($2) == "config-epoch" && $3 == name && $4 ~ /^[0-9]+$/ && same == 1 { print "sentinel config-epoch " name " " $4 }' \
      "$SENTINEL_CONFIG_FILE") || epochs=""
  fi
  # Point the monitor line at the master found, drop the rest of the state a previous run wrote (the
  # Sentinel rediscovers replicas and peers) and announce this Sentinel's own address.
  awk -v name="$REDIS_MASTER_NAME" -v master="$master" '
    BEGIN { split(master, m, " ") }
    tolower($1) == "sentinel" && tolower($2) == "monitor" && $3 == name { $4 = m[1]; $5 = m[2]; print; next }
    tolower($1) == "sentinel" && tolower($2) ~ /^(known-replica|known-slave|known-sentinel|announce-ip|announce-port|myid|current-epoch|config-epoch|leader-epoch)$/ { next }
    { print }' "$SENTINEL_CONFIG_FILE.rendered" > "$SENTINEL_CONFIG_FILE.tmp"
  rm -f "$SENTINEL_CONFIG_FILE.rendered"
  grep -q -i -E "^[[:space:]]*sentinel[[:space:]]+monitor[[:space:]]+$REDIS_MASTER_NAME[[:space:]]" \
    "$SENTINEL_CONFIG_FILE.tmp" || fail "$SENTINEL_CONFIG_TEMPLATE has no 'sentinel monitor $REDIS_MASTER_NAME' line"
  {
    echo ""
    echo "# added by redis-start.sh"
    echo "sentinel announce-ip $SENTINEL_ANNOUNCE_HOST"
    echo "sentinel announce-port $SENTINEL_PORT"
    [ -z "$epochs" ] || echo "$epochs"
  } >> "$SENTINEL_CONFIG_FILE.tmp"
  chmod 600 "$SENTINEL_CONFIG_FILE.tmp"
  mv "$SENTINEL_CONFIG_FILE.tmp" "$SENTINEL_CONFIG_FILE"
  exec "$SERVER" "$SENTINEL_CONFIG_FILE" --sentinel "$@"
  ;;
handoff)
  need REDIS_ANNOUNCE_HOST
  need REDIS_PORT
  need REDIS_ADMIN_USER
  need REDIS_ADMIN_PASSWORD
  # The kubelet keeps no output of an exec hook: where its lines go instead (Kubernetes: the container's log).
  if [ -n "${REDIS_HANDOFF_LOG:-}" ]; then exec 2>> "$REDIS_HANDOFF_LOG"; fi
  HANDOFF_SECONDS=${REDIS_HANDOFF_SECONDS:-20}
  is_uint "$HANDOFF_SECONDS" || fail "REDIS_HANDOFF_SECONDS must be a whole number of seconds, not '$HANDOFF_SECONDS'"
  now() { date +%s; }
  deadline=$(($(now) + HANDOFF_SECONDS))
  # Half the time for the replicas to catch up: what is left is the failover's.
  catchup_deadline=$(($(now) + HANDOFF_SECONDS / 2))
  replication() { admin "$REDIS_ANNOUNCE_HOST" "$REDIS_PORT" INFO replication | tr -d '\r'; }
  info=$(replication) || info=""
  role=$(echo "$info" | sed -n 's/^role://p')
  if [ "$role" != "master" ]; then
    log "handoff: this node is ${role:-not answering}, not the master: nothing to hand over"
    exit 0
  fi
  if [ "$(echo "$info" | sed -n 's/^connected_slaves://p')" = "0" ]; then
    log "handoff: the master has no replica to hand over to: stopping as it is (the Sentinels fail over when it is gone)"
    exit 0
  fi
  # Writes wait from now on; reads go on. The pause outlasts the whole handoff and its last questions: it must not
  # end by itself while this node may still be the master and a replica is being promoted.
  pause_ms=$(((HANDOFF_SECONDS + 3 * QUERY_TIMEOUT + 5) * 1000))
  if [ "$(admin "$REDIS_ANNOUNCE_HOST" "$REDIS_PORT" CLIENT PAUSE "$pause_ms" WRITE)" != "OK" ]; then
    log "handoff: could not pause writes: stopping as the master (the Sentinels fail over when it is gone)"
    exit 0
  fi
  unpause() { admin "$REDIS_ANNOUNCE_HOST" "$REDIS_PORT" CLIENT UNPAUSE > /dev/null || true; }
  # Until every replica is online and holds all the master has (offsets equal): the one promoted lacks nothing.
  caught_up=""
  while [ "$(now)" -lt "$catchup_deadline" ]; do
    info=$(replication) || info=""
    offset=$(echo "$info" | sed -n 's/^master_repl_offset://p')
    if is_uint "$offset"; then
      lagging=$(echo "$info" | awk -F'[,=]' -v o="$offset" '
        /^slave[0-9]+:/ { n++; ok = 0; for (i = 1; i < NF; i++) { if ($i == "state" && $(i + 1) == "online") ok++; if ($i == "offset" && $(i + 1) + 0 >= o + 0) ok++ } if (ok < 2) behind++ }
        END { print (n > 0 ? behind + 0 : "none") }')
      if [ "$lagging" = "0" ]; then caught_up=1; break; fi
    fi
    nap 0.1
  done
  if [ -z "$caught_up" ]; then
    unpause
    log "handoff: the replicas did not catch up within $((HANDOFF_SECONDS / 2)) s: no failover asked, stopping as the master"
    exit 0
  fi
  # A Sentinel that refuses (INPROG, NOGOODSLAVE…) or is not there started nothing; one that does not answer in time
  # may have started a failover all the same.
  asked=""
  unsure=""
  for addr in $(echo "$SENTINEL_ADDRESSES" | tr ',' ' '); do
    if reply=$(admin "${addr%:*}" "${addr##*:}" SENTINEL FAILOVER "$REDIS_MASTER_NAME"); then code=0; else code=$?; fi
    if [ "$reply" = "OK" ]; then asked=$addr; break; fi
    [ "$code" = "124" ] && unsure=1
    log "handoff: sentinel $addr did not take the failover: ${reply:-no answer}"
  done
  if [ -z "$asked" ] && [ -z "$unsure" ]; then
    unpause
    log "handoff: no sentinel took the failover: stopping as the master (the Sentinels fail over when it is gone)"
    exit 0
  fi
  log "handoff: ${asked:+sentinel $asked fails over $REDIS_MASTER_NAME}${unsure:+ (a sentinel did not answer: maybe a failover)}"
  # Once a Sentinel names the promoted replica, this node follows it at once (what the Sentinels would tell it to
  # do, but their commands to it wait behind their own paused hello messages until the pause ends).
  while [ "$(now)" -lt "$deadline" ]; do
    for addr in $(echo "$SENTINEL_ADDRESSES" | tr ',' ' '); do
      named=$(admin "${addr%:*}" "${addr##*:}" SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME" | tr '\n' ' ') || named=""
      set -- $named
      if [ $# -eq 2 ] && [ "$1:$2" != "$REDIS_ANNOUNCE_HOST:$REDIS_PORT" ] && is_uint "$2" && is_node "$1 $2"; then
        if [ "$(admin "$REDIS_ANNOUNCE_HOST" "$REDIS_PORT" REPLICAOF "$1" "$2")" = "OK" ]; then
          unpause # the paused writes are refused now (READONLY)
          log "handoff: done, this node is a replica of $1:$2 now"
          exit 0
        fi
      fi
    done
    nap 0.2
  done
  # Still the master while a failover may be under way: writes stay paused (until the node stops) rather than be
  # acknowledged here and dropped when the replicas follow the promoted one.
  log "handoff: no new master named within ${HANDOFF_SECONDS} s: stopping as the master, writes still paused"
  exit 0
  ;;
*)
  fail "usage: redis-start.sh redis|sentinel|handoff [extra server args]"
  ;;
esac
