#!/bin/bash
# /usr/bin/findmnt on a testbed Host: the real findmnt, reading the Host's mount table with each emulated
# OCFS2 mount (mount-ocfs2.sh bind-mounts the volume's shared folder) shown as the kernel shows an OCFS2
# mount: type ocfs2, the device as its source (the canonical path, as mount(8) hands it to the kernel), root
# "/", and the mount's own options as the file system's. So what a program reads on a Host through findmnt
# (and `mount`, see mount.sh) is what a real Host would say. Everything else in the table is as the kernel
# has it; invocations that read another table (--fstab, --tab-file, --poll, --verify) are the real findmnt.
# /proc/self/mountinfo itself still shows the bind mount (README.md, "Kernel-bound steps").
# shellcheck source=o2cb-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/o2cb-lib.sh"
REAL_FINDMNT=$TB_REAL/bin/findmnt

for a in "$@"; do
  case $a in
  -s | --fstab | -F | --tab-file | --tab-file=* | -p | --poll | --poll=* | -x | --verify)
    exec "$REAL_FINDMNT" "$@"
    ;;
  --*) ;;
  -*[sFpx]*) exec "$REAL_FINDMNT" "$@" ;; # a cluster of short options holding one of those
  esac
done

# mountinfo's escapes (fs/proc_namespace.c: space, tab, new line, backslash).
mi_escape() {
  local s=${1//\\/\\134}
  s=${s// /\\040}
  s=${s//$'\t'/\\011}
  printf '%s' "${s//$'\n'/\\012}"
}

# The file system's options of an emulated mount: ro/rw and what mount.ocfs2 would pass to the kernel (not
# the VFS flags, which the bind mount already carries, nor what only userspace reads, such as _netdev).
fs_options() {
  local o out=rw x
  IFS=, read -ra o <<<"$1"
  for x in "${o[@]}"; do
    case $x in
    ro) out=ro${out#rw} ;;
    '' | rw | defaults | auto | noauto | nofail | _netdev | user | users | nouser | owner | group | x-* | comment=*) ;;
    suid | nosuid | dev | nodev | exec | noexec | sync | async | atime | noatime | diratime | nodiratime) ;;
    relatime | norelatime | strictatime | nostrictatime | lazytime | nolazytime | dirsync | mand | nomand) ;;
    *) out+=,$x ;;
    esac
  done
  printf '%s' "$out"
}

shopt -s nullglob
map=''
for rec in "$TB_MOUNTS"/*/"$TB_HOST"; do
  r_device='' r_dir='' r_options=''
  tb_read_record "$rec" r_
  uuid=${rec%/*}
  uuid=${uuid##*/}
  map+="$uuid $(mi_escape "$r_dir") $(mi_escape "$(realpath -m "$r_device")") $(fs_options "$r_options")"$'\n'
done
[ -n "$map" ] || exec "$REAL_FINDMNT" "$@"

tab=$(mktemp /tmp/.flexvdi-testbed-mountinfo.XXXXXX) || exec "$REAL_FINDMNT" "$@"
# A mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER-OPTIONS.
# An emulated mount is the line whose root is the volume's data folder and whose mount point is the record's.
TB_MAP=$map awk '
  BEGIN {
    n = split(ENVIRON["TB_MAP"], lines, "\n")
    for (i = 1; i <= n; i++) {
      if (split(lines[i], m, " ") < 4) continue
      dir[m[1]] = m[2]; dev[m[1]] = m[3]; opt[m[1]] = m[4]
    }
  }
  {
    n = split($0, f, " ")
    sep = 0
    for (i = 7; i <= n; i++) if (f[i] == "-") { sep = i; break }
    if (sep && match(f[4], /\/ocfs2-data\/[0-9A-Fa-f]+$/)) {
      u = substr(f[4], RSTART + 12)
      if ((u in dir) && dir[u] == f[5]) {
        f[4] = "/"; f[sep + 1] = "ocfs2"; f[sep + 2] = dev[u]; f[sep + 3] = opt[u]
        line = f[1]
        for (i = 2; i <= n; i++) line = line " " f[i]
        print line
        next
      }
    }
    print
  }' /proc/self/mountinfo >"$tab"
"$REAL_FINDMNT" --tab-file "$tab" "$@"
rc=$?
rm -f "$tab"
exit $rc
