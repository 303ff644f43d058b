#!/bin/bash
# Emulated OCFS2 mount on a testbed Host: /sbin/mount.ocfs2 (called as `mount.ocfs2 SPEC DIR [-o OPTS]`, and
# by the mount wrapper mount.sh for every OCFS2 mount). Checks what mount.ocfs2 and the kernel check:
#   - SPEC holds an OCFS2 superblock (real debugfs.ocfs2 -R stats)
#   - this Host has an o2cb cluster online, the one whose name is stamped on the volume
#   - global heartbeat mode: the heartbeat is running
#   - a free node slot (Max Node Slots minus the other online Hosts that have it mounted)
# then bind-mounts the volume's shared data folder (same files on every Host that mounts it, as on a cluster
# file system) at DIR and records the mount (slot, device, options) in ocfs2-mounts/<UUID>/<host>.
# The mount shows in /proc/mounts as a bind mount of the testbed folder, not as type ocfs2 (see README.md).
# shellcheck source=o2cb-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/o2cb-lib.sh"
REAL_MOUNT=$TB_REAL/bin/mount

spec=''
dir=''
opts=''
while [ $# -gt 0 ]; do
  case $1 in
  -o) opts=$2; shift ;;
  -o*) opts=${1#-o} ;;
  -t) shift ;;
  -[vnfsi]*) ;;
  *) if [ -z "$spec" ]; then spec=$1; else dir=$1; fi ;;
  esac
  shift
done
if [ -z "$spec" ] || [ -z "$dir" ]; then tb_die "usage: mount.ocfs2 [-vn] [-o options] device dir"; fi

# LABEL= / UUID= specs: look for the volume among the Host's disks.
case $spec in
LABEL=* | UUID=*)
  want=${spec#*=}
  found=''
  for dev in /dev/disk/by-id/*; do
    if tb_superblock "$dev" 2>/dev/null; then
      if [ "${spec%%=*}" = LABEL ] && [ "$sb_label" = "$want" ]; then found=$dev; fi
      if [ "${spec%%=*}" = UUID ] && [ "$sb_uuid" = "$(tr -d '-' <<<"${want^^}")" ]; then found=$dev; fi
    fi
    [ -n "$found" ] && break
  done
  [ -n "$found" ] || tb_die "mount.ocfs2: Unable to find a device with $spec"
  spec=$found
  ;;
esac

[ -e "$spec" ] || tb_die "mount.ocfs2: No such file or directory while opening device $spec"
[ -d "$dir" ] || tb_die "mount: $dir: mount point does not exist."
tb_superblock "$spec" || tb_die "mount.ocfs2: Bad magic number in superblock while opening device $spec"

tb_lock
cluster=$(tb_registered_cluster)
[ -n "$cluster" ] ||
  tb_die "mount.ocfs2: Unable to access cluster service while trying initialize cluster (o2cb is not online on $TB_HOST)"
if [ -n "$sb_cluster" ] && [ "$sb_cluster" != "$cluster" ]; then
  tb_die "mount.ocfs2: Cluster name is invalid while trying to join the group (volume is for cluster '$sb_cluster', this node runs '$cluster')"
fi
r_heartbeat_mode=''
r_heartbeat=''
tb_read_record "$(tb_online_file)" r_
if [ "$r_heartbeat_mode" = global ] && [ "$r_heartbeat" != active ]; then
  tb_die "mount.ocfs2: Global heartbeat is not running for cluster '$cluster'"
fi

vol_dir=$TB_MOUNTS/$sb_uuid
mkdir -p "$vol_dir" "$TB_DATA/$sb_uuid"
[ -f "$vol_dir/$TB_HOST" ] && tb_die "mount: $dir: $spec already mounted or mount point busy."

# Slots held by other Hosts; a Host no longer online in this cluster lost its slot (recovered by the others).
declare -A used=()
for rec in "$vol_dir"/*; do
  [ -f "$rec" ] || continue
  holder=${rec##*/}
  m_cluster=''
  [ -f "$TB_ONLINE/$holder" ] && tb_read_record "$TB_ONLINE/$holder" m_
  if [ "$m_cluster" != "$cluster" ]; then
    rm -f "$rec"
    continue
  fi
  m_slot=''
  tb_read_record "$rec" m_
  used[$m_slot]=$holder
done
slot=''
for ((s = 0; s < sb_slots; s++)); do
  if [ -z "${used[$s]:-}" ]; then
    slot=$s
    break
  fi
done
[ -n "$slot" ] ||
  tb_die "mount.ocfs2: Invalid argument while mounting $spec on $dir. Check 'dmesg' for more information on this error. (all $sb_slots node slots are in use: ${used[*]})"

bind_opts=bind
case ,$opts, in *,ro,*) bind_opts=bind,ro ;; esac
"$REAL_MOUNT" -o "$bind_opts" "$TB_DATA/$sb_uuid" "$dir" || exit 32
tb_write_file "$vol_dir/$TB_HOST" <<EOF
device=$spec
dir=$(realpath "$dir")
slot=$slot
options=$opts
label=$sb_label
cluster=$cluster
mounted_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
