# shellcheck shell=bash disable=SC2034  # variables here are read by the scripts that source this file
# Shared by the emulated kernel-bound OCFS2 steps on a testbed Host (o2cb.sh, o2cb-init.sh, mount-ocfs2.sh,
# umount.sh). Sourced, never run. What the kernel would hold (registered cluster, heartbeat, mounts) is kept
# in files under /var/lib/flexvdi-testbed, a folder every Host of the testbed sees (bind-mounted), so each
# Host's emulation can check the other online members exactly where the kernel's o2net/o2hb would.
#
#   o2cb-online/<host>         this Host's registered cluster (KEY=VALUE lines, see write_online)
#   ocfs2-mounts/<UUID>/<host> this Host's mount of the volume UUID (slot, mountpoint, device)
#   ocfs2-data/<UUID>/         the volume's files, bind-mounted at the mountpoint of every Host mounting it

TB_STATE=/var/lib/flexvdi-testbed
TB_ONLINE=$TB_STATE/o2cb-online
TB_MOUNTS=$TB_STATE/ocfs2-mounts
TB_DATA=$TB_STATE/ocfs2-data
TB_REAL=/run/flexvdi-testbed/usr.real
read -r TB_HOST </run/flexvdi-testbed/host
read -r TB_HOSTNAME </proc/sys/kernel/hostname

tb_die() {
  echo "$*" >&2
  exit 1
}

# Serialises the emulations of all Hosts (the kernel's cluster-wide checks are atomic per node join).
tb_lock() {
  exec 9>"$TB_STATE/.lock"
  flock 9
}

# o2cb settings file, as the init script picks it.
tb_sysconfig() {
  if [ -f /etc/sysconfig/o2cb ]; then echo /etc/sysconfig/o2cb; else echo /etc/default/o2cb; fi
}

# "threshold idle keepalive reconnect" from the settings file, kernel defaults where unset.
tb_timeouts() {
  local O2CB_HEARTBEAT_THRESHOLD=31 O2CB_IDLE_TIMEOUT_MS=30000 O2CB_KEEPALIVE_DELAY_MS=2000
  local O2CB_RECONNECT_DELAY_MS=2000 f
  f=$(tb_sysconfig)
  # shellcheck disable=SC1090
  [ -r "$f" ] && . "$f"
  echo "${O2CB_HEARTBEAT_THRESHOLD:-31} ${O2CB_IDLE_TIMEOUT_MS:-30000} ${O2CB_KEEPALIVE_DELAY_MS:-2000} ${O2CB_RECONNECT_DELAY_MS:-2000}"
}

# Prints "number name ip port" for each node of cluster $2 in cluster.conf $1, or the cluster's
# "heartbeat_mode" / heartbeat "region"s with $3 = mode|regions|exists.
tb_conf() {
  awk -v want="$2" -v what="${3:-nodes}" '
    function flush() {
      if (stanza == "node" && v["cluster"] == want && what == "nodes")
        print v["number"], v["name"], v["ip_address"], v["ip_port"]
      if (stanza == "heartbeat" && v["cluster"] == want && what == "regions") print v["region"]
      if (stanza == "cluster" && v["name"] == want) {
        found = 1
        mode = (v["heartbeat_mode"] == "" ? "local" : v["heartbeat_mode"])
      }
      delete v
    }
    /^[a-z_]+:[ \t]*$/ { flush(); stanza = substr($1, 1, length($1) - 1); next }
    /^[ \t]+[a-z_]+[ \t]*=/ {
      line = $0; sub(/^[ \t]+/, "", line)
      key = line; sub(/[ \t]*=.*$/, "", key)
      val = line; sub(/^[^=]*=[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
      v[key] = val
    }
    END {
      flush()
      if (what == "mode" && found) print mode
      if (what == "exists") exit(found ? 0 : 1)
    }
  ' "$1"
}

# The node of cluster $2 (config $1) that is this Host, by the kernel rule: node name equals the hostname
# case-insensitively, or equals the part of the hostname before its first '.'. Prints "number name ip port".
tb_local_node() {
  local host_lc short_lc num name ip port
  host_lc=${TB_HOSTNAME,,}
  short_lc=${host_lc%%.*}
  while read -r num name ip port; do
    if [ "${name,,}" = "$host_lc" ] || [ "${name,,}" = "$short_lc" ]; then
      echo "$num $name $ip $port"
      return 0
    fi
  done < <(tb_conf "$1" "$2" nodes)
  return 1
}

# Reads KEY=VALUE record $1 into variables prefixed with $2 (e.g. r_cluster).
tb_read_record() {
  local key val
  while IFS='=' read -r key val; do
    [ -n "$key" ] && printf -v "$2$key" '%s' "$val"
  done <"$1"
}

tb_write_file() {
  local tmp="$1.$$.tmp"
  cat >"$tmp" && mv -f "$tmp" "$1"
}

# This Host's registration record, if any.
tb_online_file() { echo "$TB_ONLINE/$TB_HOST"; }

# Cluster name this Host has registered (empty when none).
tb_registered_cluster() {
  local f r_cluster=''
  f=$(tb_online_file)
  [ -f "$f" ] && tb_read_record "$f" r_
  echo "$r_cluster"
}

# Number of volumes this Host has mounted (each one holds a local heartbeat region).
tb_mount_count() {
  local n=0 f
  for f in "$TB_MOUNTS"/*/"$TB_HOST"; do [ -f "$f" ] && n=$((n + 1)); done
  echo "$n"
}

# debugfs.ocfs2 -R stats of device $1 → variables sb_label sb_uuid sb_slots sb_stack sb_cluster; fails when
# the device holds no OCFS2 file system.
tb_superblock() {
  local out
  out=$("$TB_REAL/sbin/debugfs.ocfs2" -R stats "$1" 2>&1) || return 1
  sb_label=$(sed -n 's/^[[:space:]]*Label: \(.*\)$/\1/p' <<<"$out" | head -n1)
  sb_uuid=$(sed -n 's/^[[:space:]]*UUID: \([0-9A-F]*\).*$/\1/p' <<<"$out" | head -n1)
  sb_slots=$(sed -n 's/^.*Max Node Slots: \([0-9]*\).*$/\1/p' <<<"$out" | head -n1)
  sb_stack=$(sed -n 's/^[[:space:]]*Cluster stack: \(.*\)$/\1/p' <<<"$out" | head -n1)
  sb_cluster=$(sed -n 's/^[[:space:]]*Cluster name: \(.*\)$/\1/p' <<<"$out" | head -n1)
  [ -n "$sb_uuid" ] && [ -n "$sb_slots" ]
}
