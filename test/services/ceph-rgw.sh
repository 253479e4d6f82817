#!/usr/bin/env bash
# One-node Ceph cluster with the RADOS Gateway (a real S3 server) on 127.0.0.1,
# for the tests and benchmarks. Recipe and the reasons behind every setting:
# /work/shared/RECIPES.md, section "S3 server for tests: Ceph RADOS Gateway".
#
# Usage:
#   test/services/ceph-rgw.sh install             # apt-get the packages if missing (root)
#   test/services/ceph-rgw.sh start <state-dir>   # start; writes <state-dir>/env
#   test/services/ceph-rgw.sh stop  <state-dir>   # stop what start started (idempotent)
#
# After start, `source <state-dir>/env` exports S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY and AWS_REGION. Use forcePathStyle: true in the SDK.
#
# Optional environment for start:
#   MON_PORT, RGW_PORT   fixed loopback ports instead of free ones picked at random
#   CEPH_RGW_TIMEOUT     seconds to wait for the whole start (default 90)
#   CEPH_MEMSTORE_BYTES  capacity the in-RAM OSD reports (default 8 GiB, see below)
#
# Everything lives under <state-dir>: ceph.conf, pids, env, logs in log/, and
# the Ceph data (monitor store, OSD, sockets) in data/; the OSD keeps objects
# in RAM (memstore). stop removes data/ and pids, and keeps the rest. Two
# clusters started into two state dirs at once get their own fsid, ports and
# files.
set -euo pipefail

readonly PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)
readonly COMMANDS=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool)

die() {
  printf 'ceph-rgw: error: %s\n' "$*" >&2
  exit 1
}

note() {
  printf 'ceph-rgw: %s\n' "$*" >&2
}

usage() {
  printf 'usage: %s install | start <state-dir> | stop <state-dir>\n' "$0" >&2
  exit 2
}

have_all_commands() {
  local c
  for c in "${COMMANDS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || return 1
  done
}

# ---------------------------------------------------------------- install ---

cmd_install() {
  have_all_commands && return 0

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "install needs root (or sudo) to run apt-get"
    sudo=(sudo)
  fi

  # Another apt-get (e.g. one started in the background when the machine was
  # set up) holds the dpkg lock: wait for it instead of failing or racing it.
  local waited=0
  while pgrep -x apt-get >/dev/null 2>&1 || pgrep -x dpkg >/dev/null 2>&1; do
    ((waited >= 600)) && die "another apt-get/dpkg has been running for 10 min; giving up"
    sleep 2
    waited=$((waited + 2))
  done
  have_all_commands && return 0

  local log
  log=$(mktemp /tmp/ceph-rgw-install.XXXXXX.log)
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
    ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends -o DPkg::Lock::Timeout=300 "${PACKAGES[@]}" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get failed (full log: $log)"
  fi
  local c missing=()
  for c in "${COMMANDS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || die "installed ${PACKAGES[*]} but still missing on PATH: ${missing[*]}"
  rm -f "$log"
}

# ------------------------------------------------------------------ ports ---

# True when nothing listens on 127.0.0.1:$1 and we can bind it.
port_free() {
  local port=$1 py
  py=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1) || true
  if [[ -n $py ]]; then
    "$py" - "$port" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
  else
    # No python: a port nobody answers on is taken as free.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 1
    fi
  fi
}

# Prints a free loopback port. Picked at random in 20000-32767: below the
# kernel's ephemeral range (32768+ by default), so the clients' outgoing
# connections cannot take it between this check and the daemon's bind, and
# above Ceph's own OSD range (6800-7300). Ports in $* are skipped.
pick_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
    [[ " $* " == *" $port "* ]] && continue
    if port_free "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  return 1
}

# ----------------------------------------------------------------- helpers ---

random_string() { # <length> <tr character class>
  local s
  # head closes the pipe early on purpose; tr's SIGPIPE is expected here.
  s=$(LC_ALL=C tr -dc "$2" </dev/urandom 2>/dev/null | head -c "$1") || true
  [[ ${#s} -eq $1 ]] || die "could not read /dev/urandom"
  printf '%s\n' "$s"
}

uuid() {
  cat /proc/sys/kernel/random/uuid
}

# HTTP status code of GET http://127.0.0.1:$1/ ("000" when nothing answers).
http_status() {
  local port=$1 line
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$port/" || true
    return 0
  fi
  # No curl on a bare machine: speak HTTP/1.0 over bash's /dev/tcp.
  if line=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$port" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    printf '%s' "$line"
  ); then
    line=${line#HTTP/* }
    printf '%s' "${line:0:3}"
  else
    printf '000'
  fi
}

# ------------------------------------------------------------------- stop ---

# The daemon's process name, checked before each signal so that a pid reused
# by an unrelated process after a crash is never killed.
# A zombie (exited, not yet reaped by its parent) counts as gone.
pid_is() { # <pid> <name>
  local comm stat
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  [[ $comm == "$2" ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# TERM, then KILL if still there after ~5 s.
stop_one() { # <pid> <name>
  local pid=$1 name=$2 t
  pid_is "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((t = 0; t < 50; t++)); do
    pid_is "$pid" "$name" || return 0
    sleep 0.1
  done
  note "$name (pid $pid) still running 5 s after TERM; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((t = 0; t < 20; t++)); do
    pid_is "$pid" "$name" || return 0
    sleep 0.1
  done
  note "warning: $name (pid $pid) did not exit after KILL"
}

# True when <dir>/ceph.conf was written by this script.
made_by_us() { # <dir>
  [[ -f $1/ceph.conf ]] && grep -q '^# written by ceph-rgw.sh' "$1/ceph.conf"
}

cmd_stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  local pidfile=$dir/pids pid name
  local -a pids=() names=()
  if [[ -f $pidfile ]]; then
    # pids holds "<pid> <name>" lines in start order; stop in reverse order
    # (gateway, then OSD, then monitor).
    while read -r pid name; do
      [[ $pid =~ ^[0-9]+$ ]] || continue
      pids=("$pid" "${pids[@]}")
      names=("$name" "${names[@]}")
    done <"$pidfile"
  fi

  # One at a time, gateway first, monitor last: a stopping OSD tells the
  # monitor it is going down and waits up to 5 s for an answer
  # (osd_mon_shutdown_timeout), so with TERM to all at once the monitor was
  # gone first and every stop took 5 s.
  local i
  for i in "${!pids[@]}"; do
    stop_one "${pids[i]}" "${names[i]}"
  done

  # Only the Ceph data (memstore: nothing worth keeping) and the pid list go;
  # ceph.conf, log/ and env stay for post-mortems. data/ is removed only next
  # to our ceph.conf, so a wrong <state-dir> cannot cost someone a data/.
  if made_by_us "$dir"; then
    rm -rf "$dir/data"
  fi
  rm -f "$pidfile"
}

# ------------------------------------------------------------------ start ---

STATE_DIR=
STARTED_OK=0

on_start_exit() {
  if ((STARTED_OK == 0)) && [[ -n $STATE_DIR ]]; then
    note "start failed; stopping what was started (logs kept in $STATE_DIR/log)"
    cmd_stop "$STATE_DIR" || true
  fi
}

# Runs a daemon in the background (foreground mode, -f, so the pid is the
# daemon's) and records its pid. Its stdio goes to a file, not to ours, so a
# caller reading our output through a pipe is not held open by the daemons.
spawn() { # <name> <command...>
  local name=$1
  shift
  "$@" </dev/null >>"$STATE_DIR/log/$name.out" 2>&1 &
  printf '%s %s\n' "$!" "$name" >>"$STATE_DIR/pids"
}

fail_with_log() { # <message> <log file>
  printf 'ceph-rgw: error: %s\n' "$1" >&2
  if [[ -f $2 ]]; then
    printf -- '--- last lines of %s ---\n' "$2" >&2
    tail -n 25 "$2" >&2
  fi
  exit 1
}

# Waits until "$@" succeeds, until the start deadline, failing early if the
# daemon named $name died.
wait_for() { # <what> <daemon name> <log> <command...>
  local what=$1 name=$2 log=$3 pid
  shift 3
  pid=$(awk -v n="$name" '$2 == n { p = $1 } END { print p }' "$STATE_DIR/pids")
  until "$@"; do
    if ! pid_is "$pid" "$name"; then
      fail_with_log "$name exited while waiting for $what" "$log"
    fi
    if ((SECONDS >= DEADLINE)); then
      fail_with_log "timed out after ${TIMEOUT}s waiting for $what" "$log"
    fi
    sleep 0.2
  done
}

ceph_cli() {
  timeout 15 ceph -c "$CONF" --connect-timeout 10 "$@"
}

mon_up() {
  ceph_cli mon stat >/dev/null 2>&1
}

osd_up() {
  ceph_cli osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1[,}]'
}

rgw_up() {
  [[ $(http_status "$RGW_PORT") == 200 ]]
}

cmd_start() {
  local t0
  t0=$(date +%s.%N)
  TIMEOUT=${CEPH_RGW_TIMEOUT:-90}
  DEADLINE=$((SECONDS + TIMEOUT))

  have_all_commands || die "Ceph is not installed: run '$0 install' first"

  mkdir -p "$1"
  local dir
  dir=$(cd "$1" && pwd -P)

  # Refuse to start over a live cluster of ours; otherwise clear old data.
  if [[ -f $dir/pids ]]; then
    local pid name
    while read -r pid name; do
      if [[ $pid =~ ^[0-9]+$ ]] && pid_is "$pid" "$name"; then
        die "a cluster is already running in $dir (pid $pid, $name); stop it first"
      fi
    done <"$dir/pids"
  fi
  if [[ -e $dir/data ]] && ! made_by_us "$dir"; then
    die "$dir/data exists and was not made by this script; use another state dir"
  fi
  STATE_DIR=$dir
  trap on_start_exit EXIT
  cmd_stop "$dir"
  rm -rf "$dir/data"
  local data=$dir/data
  mkdir -p "$dir/log" "$data/run" "$data/mon" "$data/osd" "$data/rgw" "$data/crash"
  : >"$dir/pids"

  MON_PORT=${MON_PORT:-$(pick_port "${RGW_PORT:-}")} || die "no free port for the monitor"
  RGW_PORT=${RGW_PORT:-$(pick_port "$MON_PORT")} || die "no free port for the gateway"
  [[ $MON_PORT =~ ^[0-9]+$ && $RGW_PORT =~ ^[0-9]+$ ]] ||
    die "MON_PORT and RGW_PORT must be port numbers (got '$MON_PORT', '$RGW_PORT')"
  [[ $MON_PORT != "$RGW_PORT" ]] || die "MON_PORT and RGW_PORT are both $MON_PORT"
  port_free "$MON_PORT" || die "monitor port 127.0.0.1:$MON_PORT is in use"
  port_free "$RGW_PORT" || die "gateway port 127.0.0.1:$RGW_PORT is in use"

  local fsid
  fsid=$(uuid)
  CONF=$dir/ceph.conf
  # Capacity the memstore OSD reports. With Ceph's default (1 GiB) the OSD
  # goes full and PUTs hang (no error) once ~1 GiB is stored (checked: a PUT
  # stalled at 1088 MiB). It is a limit, not an allocation: the objects live
  # in the OSD's RAM, about 2 bytes of RSS per byte stored.
  local memstore_bytes=${CEPH_MEMSTORE_BYTES:-8589934592}

  # Settings and why: see the recipe in /work/shared/RECIPES.md.
  cat >"$CONF" <<EOF
# written by ceph-rgw.sh (test/services/ceph-rgw.sh); stop removes data/ here
[global]
fsid = $fsid
# Monitor on loopback, messenger v2 only (msgr1 is never bound).
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
# Without this the OSD fails on an IPv6 socket.
ms bind ipv6 = false
ms bind msgr1 = false
# A throw-away local cluster: no cephx.
auth cluster required = none
auth service required = none
auth client required = none
# All six are needed: without them radosgw loops on
# "get_initial_auth_request returned -13".
ms mon client mode = crc
ms client mode = crc
ms mon service mode = crc
ms service mode = crc
ms cluster mode = crc
ms mon cluster mode = crc
# One OSD: pools of size 1, small fixed PG counts, CRUSH places on OSDs
# (type 0) rather than hosts.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# Not in the recipe, for start-up time only: the monitor batches map changes
# for 1 s (paxos propose interval) and radosgw's first start makes about ten
# of them one after the other (pools, application tags), so 1 s each was
# most of a ~13 s start (now ~2 s). The interval only batches updates to
# save traffic between monitors; with a single monitor there is none.
paxos propose interval = 0.05
# Everything under the state dir, nothing in /var/lib/ceph, /var/run or /var/log.
run dir = $data/run
admin socket = $data/run/\$cluster-\$name.asok
pid file = $data/run/\$cluster-\$name.pid
log file = $dir/log/\$cluster-\$name.log
mon cluster log file = $dir/log/\$cluster.\$channel.log
crash dir = $data/crash
keyring = $data/keyring
mon data = $data/mon/\$cluster-\$id
osd data = $data/osd/\$cluster-\$id

[osd]
# Objects in RAM: fast, no disk to prepare, gone at stop.
osd objectstore = memstore
memstore device bytes = $memstore_bytes

[client.rgw.local]
rgw data = $data/rgw
# tcp_nodelay=1: without it each GET takes ~48 ms instead of ~2 ms (Nagle).
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
EOF

  local log=$dir/log
  # mkfs wants a keyring even with auth off.
  ceph-authtool --create-keyring "$data/keyring" --gen-key -n mon. --cap mon 'allow *' \
    >"$log/mkfs.out" 2>&1 || fail_with_log "ceph-authtool failed" "$log/mkfs.out"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$data/monmap" \
    >>"$log/mkfs.out" 2>&1 || fail_with_log "monmaptool failed" "$log/mkfs.out"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$data/monmap" --keyring "$data/keyring" \
    >>"$log/mkfs.out" 2>&1 || fail_with_log "ceph-mon --mkfs failed" "$log/mkfs.out"

  spawn ceph-mon ceph-mon -c "$CONF" -i a -f
  wait_for "the monitor on port $MON_PORT" ceph-mon "$log/ceph-mon.a.log" mon_up

  local osd_uuid osd_id
  osd_uuid=$(uuid)
  osd_id=$(ceph_cli osd new "$osd_uuid" 2>>"$log/mkfs.out") ||
    fail_with_log "'ceph osd new' failed" "$log/mkfs.out"
  [[ $osd_id =~ ^[0-9]+$ ]] || die "'ceph osd new' printed '$osd_id', not an OSD id"
  mkdir -p "$data/osd/ceph-$osd_id"
  ceph-osd -c "$CONF" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" \
    >>"$log/mkfs.out" 2>&1 || fail_with_log "ceph-osd --mkfs failed" "$log/mkfs.out"

  spawn ceph-osd ceph-osd -c "$CONF" -i "$osd_id" -f
  wait_for "the OSD to be up" ceph-osd "$log/ceph-osd.$osd_id.log" osd_up

  spawn radosgw radosgw -c "$CONF" -n client.rgw.local -f
  wait_for "HTTP 200 from the gateway on port $RGW_PORT" radosgw \
    "$log/ceph-client.rgw.local.log" rgw_up

  # S3 credentials, new for every start, shaped like AWS keys: a 20-character
  # upper-case access key id and a 40-character secret (letters and digits).
  local access secret
  access=AK$(random_string 18 'A-Z0-9')
  secret=$(random_string 40 'A-Za-z0-9')
  if ! timeout 60 radosgw-admin -c "$CONF" user create --uid=test --display-name=test \
    --access-key="$access" --secret-key="$secret" >/dev/null 2>"$log/user-create.err"; then
    fail_with_log "radosgw-admin user create failed" "$log/user-create.err"
  fi

  (
    umask 077
    cat >"$dir/env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
EOF
  )

  STARTED_OK=1
  trap - EXIT
  local t1
  t1=$(date +%s.%N)
  note "ready: S3_ENDPOINT=http://127.0.0.1:$RGW_PORT (mon 127.0.0.1:$MON_PORT, fsid $fsid) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; env in $dir/env"
}

# ------------------------------------------------------------------- main ---

case ${1:-} in
install)
  [[ $# -eq 1 ]] || usage
  cmd_install
  ;;
start)
  [[ $# -eq 2 && -n $2 ]] || usage
  cmd_start "$2"
  ;;
stop)
  [[ $# -eq 2 && -n $2 ]] || usage
  cmd_stop "$2"
  ;;
*)
  usage
  ;;
esac
