#!/bin/bash
# /etc/init.d/o2cb (o2cb.init, ocfs2-tools 1.8.7) on a testbed Host: same verbs, messages and exit codes, but
# no module loading; onlining goes through the emulated `o2cb register-cluster` / `start-heartbeat`.
# Kept from the real script on purpose: `online` prints "Failed" and the reason yet EXITS 0 when the cluster
# could not be registered (the real script does) — check `o2cb cluster-status` afterwards.
# shellcheck source=o2cb-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/o2cb-lib.sh"
export LC_ALL=C
CONFIGURATION=$(tb_sysconfig)
O2CB_ENABLED=false
O2CB_BOOTCLUSTER=
# shellcheck disable=SC1090
[ -f "$CONFIGURATION" ] && . "$CONFIGURATION"

online() {
  local cluster=${1:-$O2CB_BOOTCLUSTER} out
  [ -n "$cluster" ] || { echo "Cluster not known"; return; }
  if [ "$(tb_registered_cluster)" = "$cluster" ]; then
    echo "Cluster ${cluster} already online"
    return 1
  fi
  if ! [ -f /etc/ocfs2/cluster.conf ]; then
    echo -n "Checking O2CB cluster configuration : "
    echo "Failed"
    exit 1
  fi
  echo -n "Registering O2CB cluster \"${cluster}\": "
  if out=$(o2cb register-cluster "$cluster" 2>&1); then echo "OK"; else
    echo "Failed"
    echo "$out"
    return 1
  fi
  echo "Setting O2CB cluster timeouts : OK"
  if [ "$(tb_conf /etc/ocfs2/cluster.conf "$cluster" mode)" = global ]; then
    echo -n "Starting global heartbeat for cluster \"${cluster}\": "
    if out=$(o2cb start-heartbeat "$cluster" 2>&1); then echo "OK"; else
      echo "Failed"
      echo "$out"
      o2cb unregister-cluster "$cluster" >/dev/null 2>&1
      return 1
    fi
  fi
}

offline() {
  local cluster=${1:-$O2CB_BOOTCLUSTER} out
  [ -n "$cluster" ] || return
  [ "$(tb_registered_cluster)" = "$cluster" ] || return 0
  if [ "$(tb_mount_count)" -gt 0 ]; then
    echo "Failed"
    echo "Unable to stop cluster as heartbeat region still active" >&2
    exit 1
  fi
  if [ "$(tb_conf /etc/ocfs2/cluster.conf "$cluster" mode)" = global ]; then
    echo -n "Stopping global heartbeat on cluster \"${cluster}\": "
    o2cb stop-heartbeat "$cluster" >/dev/null 2>&1 && echo "OK" || echo "Failed"
  fi
  echo -n "Unregistering O2CB cluster \"${cluster}\": "
  if out=$(o2cb unregister-cluster "$cluster" 2>&1); then echo "OK"; else
    echo "Failed"
    echo "$out"
    return 1
  fi
}

show_status() {
  local cluster=${1:-$O2CB_BOOTCLUSTER} online=0 threshold idle keepalive reconnect
  [ "$(tb_registered_cluster)" = "$cluster" ] && [ -n "$cluster" ] && online=1
  echo "Driver for \"configfs\": Loaded (emulated)"
  echo "Filesystem \"configfs\": Mounted (emulated)"
  echo "Stack glue driver: Loaded (emulated)"
  echo "Stack plugin \"o2cb\": Loaded (emulated)"
  [ -n "$cluster" ] || return 1
  echo -n "Checking O2CB cluster \"$cluster\": "
  if [ $online = 0 ]; then
    echo "Offline"
    return 0
  fi
  echo "Online"
  local r_timeouts='' r_heartbeat_mode='' r_heartbeat=''
  tb_read_record "$(tb_online_file)" r_
  read -r threshold idle keepalive reconnect <<<"$r_timeouts"
  echo "  Heartbeat dead threshold: $threshold"
  echo "  Network idle timeout: $idle"
  echo "  Network keepalive delay: $keepalive"
  echo "  Network reconnect delay: $reconnect"
  if [ "$r_heartbeat_mode" = global ]; then echo "  Heartbeat mode: Global"; else echo "  Heartbeat mode: Local"; fi
  echo -n "Checking O2CB heartbeat: "
  if [ "$r_heartbeat" = active ] || [ "$(tb_mount_count)" -gt 0 ]; then echo "Active"; else echo "Not active"; fi
}

online_status() {
  local cluster=${1:-$O2CB_BOOTCLUSTER}
  [ -n "$cluster" ] || exit 2
  if [ "$(tb_registered_cluster)" = "$cluster" ]; then
    echo "online"
    exit 0
  fi
  echo "offline"
  exit 1
}

set_enabled() {
  if grep -q '^O2CB_ENABLED=' "$CONFIGURATION" 2>/dev/null; then
    sed -i "s/^O2CB_ENABLED=.*/O2CB_ENABLED=$1/" "$CONFIGURATION"
  else
    echo "O2CB_ENABLED=$1" >>"$CONFIGURATION"
  fi
  O2CB_ENABLED=$1
}

start() {
  [ "$O2CB_ENABLED" = "true" ] || exit 0
  online "$1"
}

case "$1" in
start) start "${2:-}" ;;
stop | unload) offline "${2:-}" ;;
restart | force-reload)
  offline "${2:-}"
  start "${2:-}"
  ;;
load) ;;
online) online "${2:-}" ;;
offline | force-offline) offline "${2:-}" ;;
status) show_status "${2:-}" ;;
online-status) online_status "${2:-}" ;;
enable)
  [ "$O2CB_ENABLED" = true ] || { echo -n "Writing O2CB configuration: " && set_enabled true && echo "OK"; }
  start "${2:-}"
  ;;
disable)
  [ "$O2CB_ENABLED" = false ] || { echo -n "Writing O2CB configuration: " && set_enabled false && echo "OK"; }
  offline "${2:-}"
  ;;
configure)
  cat <<EOF
Configuring the O2CB driver.

Please configure this service in the Debian way:

 dpkg-reconfigure ocfs2-tools
EOF
  ;;
*)
  echo "Usage: $0 {start|stop|restart|force-reload|enable|disable|configure|load|unload|online|offline|force-offline|status|online-status}"
  exit 1
  ;;
esac
exit 0
