/**
 * The shell script `storage devices` runs on each Host (see devices.ts for what it reads and why, and
 * `parseHostDevices` for how its output is read).
 */

/** The first line of the script's output: a Host that prints anything else is not read as this format. */
export const DEVICES_HEADER = 'flexvdi-storage-devices 2';
/** The last line: output without it was cut short (the script killed, the connection lost). */
export const DEVICES_TRAILER = 'end';
/** Each probe (blkid, debugfs.ocfs2, blockdev) is killed after this long: a hung device must not hang the scan. */
export const PROBE_TIMEOUT_S = 10;

/**
 * Runs under `sh -c` on the Host (POSIX sh: dash on Debian, bash elsewhere); only reads. One line per fact,
 * fields separated by tabs:
 *   id <name> <device>                   a /dev/disk/by-id link and the device it resolves to
 *   dev <device> <bytes|-|timeout> <holders…>   once per device (holders: space-separated, may be empty)
 *   blkid <device> <exit> <base64 stdout> <base64 stderr> <readable 1|0>
 *                                        `blkid -p -o export`; exit 2 is "nothing found" and also "cannot
 *                                        open", told apart by stderr and a check after the probe
 *   ocfs2 <device> <base64> <exit>       `debugfs.ocfs2 -R stats` when blkid says ocfs2
 *   mount <device> <partition|-> <target> <fstype>   a mount of the device or of one of its partitions
 *   note <text>                          something the Host could not tell, or a device left out and why
 *   unnamed <name…>                      whole disks (kernel names, space-separated) no by-id link names
 *   end                                  the last line
 * Mount targets are `findmnt -r`'s (spaces and the like as \xNN). A probe that `timeout` kills exits 124
 * (or 137 when it ignored TERM).
 */
export const DEVICES_SCRIPT = `export LC_ALL=C
PATH=$PATH:/sbin:/usr/sbin:/bin:/usr/bin
t=$(printf '\\t')
nl='
'
b64() { base64 | tr -d '\\n'; }
if command -v timeout >/dev/null 2>&1; then
  to() { timeout -k 2 ${PROBE_TIMEOUT_S} "$@"; }
else
  to() { "$@"; }
fi
# sysfs of a block device node, by its major:minor (stat prints them in hex): the node's name in /dev need
# not be the kernel's
sysof() {
  [ -b "$1" ] || return 1
  mm=$(stat -L -c '%t:%T' "$1" 2>/dev/null) || return 1
  echo "/sys/dev/block/$(printf '%d:%d' "0x\${mm%%:*}" "0x\${mm#*:}")"
}
# a device-mapper partition of a multipath map (kpartx): its disk is the device
dmpart() { [ -r "$1/dm/uuid" ] && case $(cat "$1/dm/uuid") in part*) true ;; *) false ;; esac; }
note() { printf 'note\\t%s\\n' "$1"; }
# the listed device whose sysfs folder is $1 (sysmap: one "sysfs device" line per listed device)
devof() {
  case $sysmap in *"$nl$1 "*) ;; *) return 1 ;; esac
  x=\${sysmap#*"$nl$1 "}
  echo "\${x%%"$nl"*}"
}
echo '${DEVICES_HEADER}'
seen=$nl
seensys=$nl
sysmap=$nl
if [ ! -d /dev/disk/by-id ]; then
  note '/dev/disk/by-id does not exist (no udev?): no device has a stable id here'
fi
for l in /dev/disk/by-id/*; do
  [ -L "$l" ] || continue
  n=\${l##*/}
  case $n in *-part[0-9] | *-part[0-9][0-9] | *-part[0-9][0-9][0-9] | dm-uuid-part*) continue ;; esac
  case $n in *"$t"* | *"$nl"*) continue ;; esac
  d=$(readlink -f "$l") || continue
  sys=$(sysof "$d") || continue
  [ -e "$sys/partition" ] && continue
  printf 'id\\t%s\\t%s\\n' "$n" "$d"
  case $seen in *"$nl$d$nl"*) continue ;; esac
  seen=$seen$d$nl
  seensys=$seensys$sys$nl
  dmpart "$sys" && continue
  if [ "$(cat "$sys/ro" 2>/dev/null)" = 1 ]; then
    note "$d ($n) is read-only: not listed"
    continue
  fi
  if [ "$(cat "$sys/removable" 2>/dev/null)" = 1 ]; then
    note "$d ($n) is removable: not listed"
    continue
  fi
  size=$(to blockdev --getsize64 "$d" 2>/dev/null)
  case $? in 0) ;; 124 | 137) size=timeout ;; *) size=- ;; esac
  holders=$(ls "$sys/holders" 2>/dev/null | tr '\\n' ' ')
  printf 'dev\\t%s\\t%s\\t%s\\n' "$d" "\${size:--}" "$holders"
  sysmap="$sysmap$sys $d$nl"
  r=$( { probe=$(to blkid -p -o export "$d" 2>&3); printf '\\nrc=%s\\n' "$?"; printf '%s' "$probe" | b64; printf .; } 3>&1 )
  # r: blkid's stderr, a line rc=N, the base64 of its stdout, a dot
  r=\${r%.}
  out=\${r##*"$nl"}
  probe=$(printf '%s' "$out" | base64 -d 2>/dev/null)
  r=\${r%"$nl"*}
  rc=\${r##*"\${nl}rc="}
  msg=\${r%"\${nl}rc="*}
  # blkid exits 2 for "nothing found" and for "cannot open": is the device still there, and readable?
  readable=0
  if [ -r "$d" ] && [ -b "$d" ]; then readable=1; fi
  printf 'blkid\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$d" "$rc" "$out" "$(printf '%s' "$msg" | b64)" "$readable"
  case "$nl$probe$nl" in
  *"\${nl}TYPE=ocfs2$nl"*)
    stats=$(to debugfs.ocfs2 -R stats "$d" 2>/dev/null)
    drc=$?
    printf 'ocfs2\\t%s\\t%s\\t%s\\n' "$d" "$(printf '%s' "$stats" | b64)" "$drc"
    ;;
  esac
done
# whole disks the kernel has that no /dev/disk/by-id link names (compared by major:minor: the kernel's name
# need not be the node's), not empty, not read-only or removable
noid=
for b in /sys/block/*; do
  mm=$(cat "$b/dev" 2>/dev/null) || continue
  case $seensys in *"$nl/sys/dev/block/$mm$nl"*) continue ;; esac
  [ "$(cat "$b/size" 2>/dev/null)" = 0 ] && continue
  [ "$(cat "$b/ro" 2>/dev/null)" = 1 ] && continue
  [ "$(cat "$b/removable" 2>/dev/null)" = 1 ] && continue
  dmpart "$b" && continue
  noid="$noid\${noid:+ }\${b##*/}"
done
[ -n "$noid" ] && printf 'unnamed\\t%s\\n' "$noid"
mounted() {
  while read -r src rest; do
    case $src in /*) ;; *) continue ;; esac
    r=$(readlink -f "$src" 2>/dev/null) || r=$src
    s=$(sysof "$r") || continue
    p=-
    if [ -e "$s/partition" ]; then
      p=$r
      s=/sys/dev/block/$(cat "$(readlink -f "$s")/../dev" 2>/dev/null) || continue
    fi
    d=$(devof "$s") && printf 'mount\\t%s\\t%s\\t%s\\n' "$d" "$p" "$rest"
  done
}
if command -v findmnt >/dev/null 2>&1; then
  findmnt -rnv -o SOURCE,TARGET,FSTYPE 2>/dev/null | sed "s/ /$t/g" | (IFS=$t; mounted)
else
  note 'findmnt is not installed: where its devices are mounted is not known'
fi
if [ -r /proc/swaps ]; then
  tail -n +2 /proc/swaps | while read -r src rest; do printf '%s\\t[SWAP]\\tswap\\n' "$src"; done | (IFS=$t; mounted)
fi
echo ${DEVICES_TRAILER}
exit 0
`;
