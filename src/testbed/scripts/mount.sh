#!/bin/bash
# /usr/bin/mount on a testbed Host. OCFS2 mounts are recognised here first (not left to mount(8), which
# makes its own checks of the device and the kernel before calling /sbin/mount.ocfs2) and handed to the
# emulation (mount-ocfs2.sh); everything else is the real mount with the same arguments. OCFS2 is recognised
# as mount(8) would: -t ocfs2, an fstab entry of type ocfs2 (`mount DIR`, `mount -a`), or a device whose
# superblock says ocfs2. The listing (`mount`, `mount -t TYPES`) is the mount table as findmnt.sh shows it:
# emulated OCFS2 mounts as type ocfs2.
# shellcheck source=o2cb-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/o2cb-lib.sh"
REAL_MOUNT=$TB_REAL/bin/mount
EMULATE=$(dirname "${BASH_SOURCE[0]}")/mount-ocfs2.sh
FINDMNT=$(dirname "${BASH_SOURCE[0]}")/findmnt.sh

real() { exec "$REAL_MOUNT" "${orig[@]}"; }

orig=("$@")
pass=() # the arguments without the type filter
types=''
opts=''
fstab=/etc/fstab
all=0
pos=()
while [ $# -gt 0 ]; do
  case $1 in
  -t | --types)
    types=$2
    shift
    ;;
  -t*) types=${1#-t} ;;
  --types=*) types=${1#*=} ;;
  -o | --options)
    opts=$2
    pass+=("$1" "$2")
    shift
    ;;
  -o* | --options=*)
    opts=${1#-o}
    opts=${opts#--options=}
    pass+=("$1")
    ;;
  -T | --fstab)
    fstab=$2
    pass+=("$1" "$2")
    shift
    ;;
  -a | --all)
    all=1
    pass+=("$1")
    ;;
  -[fnrwvsi] | --fake | --no-mtab | --read-only | --rw | --verbose | --sloppy) pass+=("$1") ;;
  -*) real ;; # bind/move/propagation/… or anything this wrapper does not parse: never OCFS2 here
  *) pos+=("$1") ;;
  esac
  shift
done

wants_ocfs2() { [[ ,$types, == *,ocfs2,* ]]; }

emulate() {
  local o=$3
  case ,$opts, in ,,) ;; *) o=${o:+$o,}$opts ;; esac
  bash "$EMULATE" "$1" "$2" ${o:+-o "$o"}
}

# fstab entries of type ocfs2 (skipping comments): "spec dir options".
fstab_ocfs2() {
  [ -r "$fstab" ] && awk '!/^[ \t]*#/ && $3 == "ocfs2" { print $1, $2, $4 }' "$fstab"
}

mounted_here() {
  local rec r_dir
  for rec in "$TB_MOUNTS"/*/"$TB_HOST"; do
    [ -f "$rec" ] || continue
    r_dir=''
    tb_read_record "$rec" r_
    [ "$r_dir" = "$(realpath -m "$1")" ] && return 0
  done
  return 1
}

if [ $all = 1 ]; then
  if [ -z "$types" ] || wants_ocfs2; then
    rc=0
    while read -r spec dir o; do
      mounted_here "$dir" && continue
      [[ ,$o, == *,noauto,* ]] && continue
      emulate "$spec" "$dir" "$o" || rc=$?
    done < <(fstab_ocfs2)
    rest=$(tr ',' '\n' <<<"$types" | grep -vx ocfs2 | paste -sd, -)
    if [ -n "$types" ] && [ -z "$rest" ]; then exit $rc; fi
    "$REAL_MOUNT" "${pass[@]}" -t "${rest:-noocfs2}" || exit $?
    exit $rc
  fi
  real
fi

case ${#pos[@]} in
0)
  if wants_ocfs2; then # listing: the emulated OCFS2 mounts of this Host
    for rec in "$TB_MOUNTS"/*/"$TB_HOST"; do
      [ -f "$rec" ] || continue
      r_device='' r_dir='' r_options=''
      tb_read_record "$rec" r_
      echo "$r_device on $r_dir type ocfs2 (${r_options:-rw})"
    done
    exit 0
  fi
  if [ ${#pass[@]} -eq 0 ]; then # `mount [-t TYPES]`: the listing, from the table findmnt.sh shows
    bash "$FINDMNT" -rnv -o SOURCE,TARGET,FSTYPE,OPTIONS ${types:+-t "$types"} |
      while read -r src dst fs o; do printf '%b on %b type %s (%s)\n' "$src" "$dst" "$fs" "$o"; done
    exit "${PIPESTATUS[0]}"
  fi
  real
  ;;
1)
  target=${pos[0]}
  while read -r spec dir o; do
    if [ "$spec" = "$target" ] || [ "$(realpath -m "$dir")" = "$(realpath -m "$target")" ]; then
      emulate "$spec" "$dir" "$o"
      exit $?
    fi
  done < <(fstab_ocfs2)
  real
  ;;
2)
  if wants_ocfs2 || { [ -z "$types" ] && [ "$(blkid -p -o value -s TYPE "${pos[0]}" 2>/dev/null)" = ocfs2 ]; }; then
    emulate "${pos[0]}" "${pos[1]}" ''
    exit $?
  fi
  real
  ;;
*) real ;;
esac
