#!/bin/bash
# flexvdi-manager: a Host's control of the flexVDI Manager guest (the Manager VM), as the testbed models it.
# Installed on every testbed Host as /usr/sbin/flexvdi-manager. The product drives the Manager only through
# this tool and /etc/flexvdi/manager.conf; on a real flexVDI Host the same contract would sit over libvirt and
# the Manager VM's disk image (see src/testbed/README.md, "The Manager as a guest").
#
#   flexvdi-manager status   exit 0; key=value lines: state=running|stopped (running: on THIS Host), disk=,
#                            address=, pid=, lease_owner=, lease_expires_ms= (lease read next to DISK)
#   flexvdi-manager start    claim the lease, start the guest from DISK at ADDRESS:443; exit 0 once its API
#                            answers (or at once when it already runs here). Exit 2: DISK missing on this
#                            Host. Exit 3: another Host holds a live lease. Exit 1: any other failure, with
#                            nothing left behind (no namespace, no process, no lease claimed).
#   flexvdi-manager stop     graceful stop (the stand-in saves its state and releases its lease), network
#                            torn down; exit 0 also when it does not run here.
#
# /etc/flexvdi/manager.conf (read on every call; the product rewrites DISK after a move): DISK=<image>,
# ADDRESS=<Manager IP>, optional LEASE_MS=<lease time, default 20000>. The lease is <dirname DISK>/
# flexvdi-manager.lease (owner=<Host FQDN>, expires_ms=<epoch ms>), written under flock on
# <dirname DISK>/flexvdi-manager.lease.lock; the running stand-in renews it every LEASE_MS/4.
#
# The guest's "hardware" comes from the testbed, in /run/flexvdi-testbed/guest.env (written per Host): the
# name of its NIC's bridge-side end, the bridge, the guest's MAC, the stand-in program. The guest is a network
# namespace of its own (this Host's /run/netns/flexvdi-manager, IPv6 off) with a veth whose other end is a port
# of the testbed bridge; the stand-in runs in it, in this Host's mount, PID and freezer/cpu groups.
set -u
CONF=/etc/flexvdi/manager.conf
TB_ENV=/run/flexvdi-testbed/guest.env
ROOT_NETNS=/run/flexvdi-testbed/root.netns
PIDFILE=/run/flexvdi-manager.pid
NETNS=flexvdi-manager
LOG=/var/log/flexvdi-manager.log
START_TIMEOUT_S=30
STOP_TIMEOUT_S=15

die() {
  local code=$1
  shift
  printf 'flexvdi-manager: %s\n' "$*" >&2
  exit "$code"
}

# DISK, ADDRESS, LEASE_MS from the conf (parsed, not sourced: it is the product's file).
load_conf() {
  DISK='' ADDRESS='' LEASE_MS=''
  [ -r "$CONF" ] || die 1 "cannot read $CONF"
  local k v
  while IFS='=' read -r k v || [ -n "$k" ]; do
    case $k in
      DISK) DISK=$v ;;
      ADDRESS) ADDRESS=$v ;;
      LEASE_MS) LEASE_MS=$v ;;
    esac
  done <"$CONF"
  LEASE_MS=${LEASE_MS:-20000}
  [[ $DISK == /* ]] || die 1 "$CONF: DISK must be an absolute path, got '$DISK'"
  [[ $ADDRESS =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die 1 "$CONF: ADDRESS must be an IPv4 address, got '$ADDRESS'"
  [[ $LEASE_MS =~ ^[0-9]+$ ]] && ((LEASE_MS >= 1000)) || die 1 "$CONF: LEASE_MS must be at least 1000, got '$LEASE_MS'"
  LEASE="$(dirname "$DISK")/flexvdi-manager.lease"
  LOCK="$LEASE.lock"
}

load_testbed() {
  [ -r "$TB_ENV" ] || die 1 "$TB_ENV is missing: not a testbed Host"
  # shellcheck source=/dev/null
  . "$TB_ENV"
}

now_ms() { date +%s%3N; }
note() { printf '%s %s\n' "$(date -u +%FT%T.%3NZ)" "$*" >>"$LOG"; }
iso_of() { date -u -d "@$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ; }

# L_OWNER, L_EXPIRES from the lease file (empty when there is none).
read_lease() {
  L_OWNER='' L_EXPIRES=''
  [ -r "$LEASE" ] || return 0
  local k v
  while IFS='=' read -r k v || [ -n "$k" ]; do
    case $k in
      owner) L_OWNER=$v ;;
      expires_ms) L_EXPIRES=$v ;;
    esac
  done <"$LEASE"
}

# Takes the lease for this Host unless another Host holds a live one (exit 3).
claim_lease() {
  exec 9>>"$LOCK" || die 1 "cannot open $LOCK"
  flock -w 10 9 || die 1 "cannot lock $LOCK within 10 s"
  read_lease
  local now
  now=$(now_ms)
  if [ -n "$L_OWNER" ] && [ "$L_OWNER" != "$TB_FQDN" ] && [ "${L_EXPIRES:-0}" -gt "$now" ]; then
    exec 9>&-
    die 3 "lease held by $L_OWNER until $(iso_of "$L_EXPIRES")"
  fi
  if ! { printf 'owner=%s\nexpires_ms=%s\n' "$TB_FQDN" $((now + LEASE_MS)) >"$LEASE.$$.tmp" && mv -f "$LEASE.$$.tmp" "$LEASE"; }; then
    rm -f "$LEASE.$$.tmp"
    exec 9>&-
    die 1 "cannot write the lease $LEASE"
  fi
  exec 9>&-
}

# Gives the lease up when this Host holds it.
release_lease() {
  [ -e "$LEASE" ] || return 0
  exec 9>>"$LOCK" || return 1
  flock -w 10 9 || {
    exec 9>&-
    return 1
  }
  read_lease
  [ "$L_OWNER" != "$TB_FQDN" ] || rm -f "$LEASE"
  exec 9>&-
}

# The stand-in's pid when it runs on this Host (empty otherwise).
guest_pid() {
  local pid=''
  if [ -r "$PIDFILE" ]; then read -r pid <"$PIDFILE"; fi
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'manager/main\.js'; then
    echo "$pid"
  fi
  return 0
}

in_root() { nsenter --net="$ROOT_NETNS" -- "$@"; }
in_guest() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

# The guest's NIC: a veth from its namespace to the testbed bridge, the same MAC wherever it runs (as a VM
# keeps its MAC), IPv6 off, a gratuitous ARP when it comes up (arp_notify) so the bridge and the neighbours
# learn the new port at once.
setup_net() {
  ip netns add "$NETNS" || return 1
  in_guest sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6' || return 1
  ip -n "$NETNS" link set lo up || return 1
  in_root ip link add "$TB_GUEST_VETH" type veth peer name eth0 netns "$NETNS" || return 1
  in_root sh -c 'echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6"' _ "$TB_GUEST_VETH" || return 1
  in_root ip link set "$TB_GUEST_VETH" master "$TB_BRIDGE" up || return 1
  in_guest sh -c 'echo 1 >/proc/sys/net/ipv6/conf/eth0/disable_ipv6 && echo 1 >/proc/sys/net/ipv4/conf/eth0/arp_notify' || return 1
  ip -n "$NETNS" link set eth0 address "$TB_GUEST_MAC" || return 1
  ip -n "$NETNS" addr add "$ADDRESS/$TB_PREFIX" dev eth0 || return 1
  ip -n "$NETNS" link set eth0 up || return 1
}

teardown_net() {
  in_root ip link del "$TB_GUEST_VETH" 2>/dev/null
  ip netns del "$NETNS" 2>/dev/null
  return 0
}

# Internal: the guest's life. Runs detached (setsid), in this Host; the stand-in in the guest's network
# namespace; when the stand-in exits (stopped, or it lost its lease) the guest's network goes with it.
run_guest() {
  local disk=$1 address=$2 lease_ms=$3 pid rc
  ADDRESS=$address
  load_testbed
  # nsenter without --pid execs the program: $! is the stand-in itself.
  nsenter --net="/run/netns/$NETNS" -- "$TB_NODE" "$TB_STANDIN" --image "$disk" --host "$address" --port 443 \
    --lease-file "$(dirname "$disk")/flexvdi-manager.lease" --lease-owner "$TB_FQDN" --lease-ms "$lease_ms" \
    --running-on "$TB_FQDN" </dev/null >/dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
  while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  teardown_net
  [ "$(cat "$PIDFILE" 2>/dev/null)" != "$pid" ] || rm -f "$PIDFILE"
  echo "$(date -u +%FT%TZ) stand-in $pid exited $rc" >&2
  exit "$rc"
}

cmd_status() {
  load_conf
  local pid
  pid=$(guest_pid)
  read_lease
  printf 'state=%s\ndisk=%s\naddress=%s\npid=%s\nlease_owner=%s\nlease_expires_ms=%s\n' \
    "$([ -n "$pid" ] && echo running || echo stopped)" "$DISK" "$ADDRESS" "$pid" "$L_OWNER" "$L_EXPIRES"
}

# Undoes a failed start: the guest's processes (its supervisor's whole session), its network, the lease.
undo_start() {
  local pid
  pid=$(guest_pid)
  [ -z "${SUPERVISOR:-}" ] || kill -KILL -- "-$SUPERVISOR" 2>/dev/null
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
  teardown_net
  rm -f "$PIDFILE"
  release_lease
}

cmd_start() {
  load_conf
  load_testbed
  [ -z "$(guest_pid)" ] || exit 0
  [ -f "$DISK" ] || die 2 "disk image not found: $DISK"
  # Remains of a guest that died without its supervisor (a killed Host process): clear them first.
  if [ -e "/run/netns/$NETNS" ]; then teardown_net; fi
  rm -f "$PIDFILE"
  claim_lease
  note "start: lease claimed, from $DISK"
  if ! setup_net 2>>"$LOG"; then
    undo_start
    die 1 "cannot set up the guest's network (see $LOG)"
  fi
  # Not a process group leader (no job control here), so setsid does not fork: $! is the supervisor.
  setsid bash "${BASH_SOURCE[0]}" _run "$DISK" "$ADDRESS" "$LEASE_MS" </dev/null >>"$LOG" 2>&1 &
  SUPERVISOR=$!
  local deadline=$((SECONDS + START_TIMEOUT_S)) code
  while :; do
    code=$(in_guest curl -sk -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 2 "https://$ADDRESS/hosts" 2>/dev/null)
    case $code in 2?? | 401) break ;; esac
    if ((SECONDS >= deadline)); then
      undo_start
      die 1 "the Manager did not answer at https://$ADDRESS within ${START_TIMEOUT_S} s (see $LOG)"
    fi
    if ! kill -0 "$SUPERVISOR" 2>/dev/null; then
      undo_start
      die 1 "the Manager exited while starting: $(tail -n 3 "$LOG" | tr '\n' ' ')"
    fi
    sleep 0.1
  done
  # Poke the gateway: one more frame from the new port, whatever the neighbours missed.
  in_guest timeout 1 bash -c ": </dev/tcp/$TB_GATEWAY/9" 2>/dev/null
  note "start: answering at https://$ADDRESS"
  exit 0
}

# Stops the guest on this Host and tears its network down (output to the log: nothing of it may hold the
# caller's session open).
stop_guest() {
  local pid deadline=$((SECONDS + STOP_TIMEOUT_S))
  pid=$(guest_pid)
  note "stop: stand-in ${pid:-not running}"
  if [ -n "$pid" ]; then
    kill -TERM "$pid"
    while [ -e "$PIDFILE" ] && ((SECONDS < deadline)); do sleep 0.1; done
    pid=$(guest_pid)
    [ -z "$pid" ] || kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
  # The supervisor tore the network down when the stand-in exited; only remains are left to remove (an `ip
  # link del` waits for the kernel's rtnl lock, which other namespaces' teardown can hold for long).
  if [ -e "/run/netns/$NETNS" ]; then teardown_net; fi
}

cmd_stop() {
  load_conf
  load_testbed
  stop_guest </dev/null >>"$LOG" 2>&1
  release_lease 2>>"$LOG" || die 1 "cannot release the lease $LEASE"
  note "stop: done"
  exit 0
}

case ${1:-} in
  status) cmd_status ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  _run)
    shift
    run_guest "$@"
    ;;
  *) die 1 "usage: flexvdi-manager status|start|stop" ;;
esac
