#!/bin/bash
# o2cb(8) on a testbed Host. The five subcommands that need the ocfs2 kernel modules (configfs) are emulated
# with the checks the kernel side would make; every other subcommand (add-cluster, add-node, list-cluster,
# heartbeat-mode, …) is the real /usr/sbin/o2cb, run with the same arguments.
#
#   register-cluster C    cluster C in the config file, valid name, one cluster per node, this Host listed
#                         (kernel hostname rule), cluster.conf byte-identical and O2CB timeouts equal to every
#                         other Host that has C online (what o2net's handshake would reject)
#   unregister-cluster C  refused while a heartbeat region is active (global heartbeat or a mounted volume)
#   start-heartbeat C     global mode: every configured region must be a formatted device on this Host
#   stop-heartbeat C      global mode: refused while a volume is mounted
#   cluster-status [C]    prints/returns like the real tool: 0 "Cluster 'C' is online", 1 offline
# shellcheck source=o2cb-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/o2cb-lib.sh"
REAL_O2CB=$TB_REAL/sbin/o2cb

conf=/etc/ocfs2/cluster.conf
verbose=0
args=("$@")
i=0
while [ $i -lt ${#args[@]} ]; do
  case ${args[$i]} in
  --config-file=*) conf=${args[$i]#*=} ;;
  --config-file)
    i=$((i + 1))
    conf=${args[$i]:-}
    ;;
  -v | --verbose) verbose=1 ;;
  -*) exec "$REAL_O2CB" "$@" ;;
  *) break ;;
  esac
  i=$((i + 1))
done
cmd=${args[$i]:-}
cluster=${args[$((i + 1))]:-}

say() { [ $verbose = 1 ] && echo "$*"; return 0; }

need_cluster() {
  [ -n "$cluster" ] || tb_die "o2cb: usage: $cmd <clustername>"
  if ! [ -r "$conf" ] || ! tb_conf "$conf" "$cluster" exists; then tb_die "o2cb: Unknown cluster '$cluster'"; fi
}

register() {
  need_cluster
  [[ $cluster =~ ^[0-9A-Za-z]{1,16}$ ]] ||
    tb_die "o2cb: Cluster name is invalid ; only alpha-numeric characters allowed"
  tb_lock
  local current node sha timeouts mode f
  current=$(tb_registered_cluster)
  [ -z "$current" ] || [ "$current" = "$cluster" ] ||
    tb_die "o2cb: Cluster '$current' is already registered on this node; unregister it first"
  node=$(tb_local_node "$conf" "$cluster") ||
    tb_die "o2cb: This node ('$TB_HOSTNAME') is not listed in cluster '$cluster' of $conf: no node name equals the hostname or its part before the first '.' (the kernel would have no local node)"
  sha=$(sha256sum <"$conf")
  sha=${sha%% *}
  timeouts=$(tb_timeouts)
  mode=$(tb_conf "$conf" "$cluster" mode)
  for f in "$TB_ONLINE"/*; do
    if ! [ -f "$f" ] || [ "${f##*/}" = "$TB_HOST" ]; then continue; fi
    local r_cluster='' r_conf_sha256='' r_timeouts=''
    tb_read_record "$f" r_
    [ "$r_cluster" = "$cluster" ] || continue
    [ "$r_conf_sha256" = "$sha" ] ||
      tb_die "o2cb: $conf differs from the cluster.conf that node '${f##*/}' has online for cluster '$cluster': it must be byte-identical on all nodes"
    [ "$r_timeouts" = "$timeouts" ] ||
      tb_die "o2cb: O2CB timeouts (threshold idle keepalive reconnect: $timeouts) differ from node '${f##*/}' ($r_timeouts): the nodes would drop each other's connections"
  done
  local prev_hb=inactive r_heartbeat=''
  if [ -f "$(tb_online_file)" ]; then
    tb_read_record "$(tb_online_file)" r_
    prev_hb=${r_heartbeat:-inactive}
  fi
  read -r num name ip port <<<"$node"
  mkdir -p "$TB_ONLINE"
  tb_write_file "$(tb_online_file)" <<EOF
cluster=$cluster
conf=$conf
conf_sha256=$sha
node_number=$num
node_name=$name
node_ip=$ip
node_port=$port
heartbeat_mode=$mode
heartbeat=$prev_hb
timeouts=$timeouts
registered_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
  say "Cluster '$cluster' registered"
}

registered_or_die() {
  local current
  current=$(tb_registered_cluster)
  [ "$current" = "$cluster" ] || tb_die "o2cb: Cluster '$cluster' not active"
}

unregister() {
  need_cluster
  tb_lock
  registered_or_die
  local r_heartbeat=''
  tb_read_record "$(tb_online_file)" r_
  if [ "$r_heartbeat" = active ] || [ "$(tb_mount_count)" -gt 0 ]; then
    tb_die "o2cb: Atleast one heartbeat region is still active"
  fi
  rm -f "$(tb_online_file)"
  say "Cluster '$cluster' unregistered"
}

set_heartbeat() {
  sed -i "s/^heartbeat=.*/heartbeat=$1/" "$(tb_online_file)"
}

start_heartbeat() {
  need_cluster
  tb_lock
  registered_or_die
  [ "$(tb_conf "$conf" "$cluster" mode)" = global ] || return 0
  local region dev found sb_uuid=''
  local -a regions
  mapfile -t regions < <(tb_conf "$conf" "$cluster" regions)
  [ ${#regions[@]} -gt 0 ] || tb_die "o2cb: No heartbeat regions configured in cluster '$cluster'"
  for region in "${regions[@]}"; do
    found=''
    for dev in /dev/disk/by-id/*; do
      tb_superblock "$dev" 2>/dev/null && [ "$sb_uuid" = "${region^^}" ] && found=$dev && break
    done
    [ -n "$found" ] || tb_die "o2cb: Unable to find a device for heartbeat region '$region'"
  done
  set_heartbeat active
  say "Global heartbeat started"
}

stop_heartbeat() {
  need_cluster
  tb_lock
  registered_or_die
  [ "$(tb_conf "$conf" "$cluster" mode)" = global ] || return 0
  [ "$(tb_mount_count)" -eq 0 ] || tb_die "o2cb: Heartbeat region in use by a mounted volume"
  set_heartbeat inactive
  say "Global heartbeat stopped"
}

status() {
  local current r_heartbeat='' r_heartbeat_mode=''
  current=$(tb_registered_cluster)
  if [ -z "$current" ]; then
    [ -n "$cluster" ] && echo "Cluster '$cluster' is offline" || echo offline
    return 1
  fi
  if [ -n "$cluster" ] && [ "$cluster" != "$current" ]; then
    echo "Cluster '$cluster' is offline"
    return 1
  fi
  tb_read_record "$(tb_online_file)" r_
  if [ "$r_heartbeat_mode" = global ] && [ "$r_heartbeat" != active ]; then
    echo "Cluster '$current' is offline"
    return 1
  fi
  echo "Cluster '$current' is online"
}

case $cmd in
register-cluster) register ;;
unregister-cluster) unregister ;;
start-heartbeat) start_heartbeat ;;
stop-heartbeat) stop_heartbeat ;;
cluster-status) status ;;
*) exec "$REAL_O2CB" "$@" ;;
esac
