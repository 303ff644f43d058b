#!/bin/bash
# /usr/bin/umount on a testbed Host: unmounting an emulated OCFS2 mount (by mount point or device, or
# `umount -a -t ocfs2`) also releases its node slot and local heartbeat (the record in ocfs2-mounts/);
# everything else is the real umount with the same arguments.
# shellcheck source=o2cb-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/o2cb-lib.sh"
REAL_UMOUNT=$TB_REAL/bin/umount

flags=()
simple=() # flags that also apply to unmounting the emulation's bind mount
targets=()
types=''
all=0
while [ $# -gt 0 ]; do
  case $1 in
  -t | --types)
    types=$2
    flags+=("$1" "$2")
    shift
    ;;
  -a | --all)
    all=1
    flags+=("$1")
    ;;
  -[lfvnrdR] | --lazy | --force | --verbose | --no-mtab | --recursive)
    flags+=("$1")
    simple+=("$1")
    ;;
  -*) flags+=("$1") ;;
  *) targets+=("$1") ;;
  esac
  shift
done

# The record of this Host's emulated mount whose mount point or device is $1.
record_for() {
  local rec r_dir r_device want
  want=$(realpath -m "$1")
  for rec in "$TB_MOUNTS"/*/"$TB_HOST"; do
    [ -f "$rec" ] || continue
    r_dir=''
    r_device=''
    tb_read_record "$rec" r_
    if [ "$r_dir" = "$want" ] || [ "$r_device" = "$1" ] || [ "$(realpath -m "$r_device")" = "$want" ]; then
      echo "$rec"
      return 0
    fi
  done
  return 1
}

unmount_emulated() {
  local rec=$1 r_dir=''
  tb_read_record "$rec" r_
  "$REAL_UMOUNT" "${simple[@]}" "$r_dir" || return $?
  rm -f "$rec"
}

if [ $all = 1 ] && [[ ,$types, == *,ocfs2,* ]]; then
  rc=0
  for rec in "$TB_MOUNTS"/*/"$TB_HOST"; do
    [ -f "$rec" ] && { unmount_emulated "$rec" || rc=$?; }
  done
  exit $rc
fi
if [ ${#targets[@]} -eq 0 ]; then exec "$REAL_UMOUNT" "${flags[@]}"; fi

rc=0
for target in "${targets[@]}"; do
  if rec=$(record_for "$target"); then
    unmount_emulated "$rec" || rc=$?
  else
    "$REAL_UMOUNT" "${flags[@]}" "$target" || rc=$?
  fi
done
exit $rc
