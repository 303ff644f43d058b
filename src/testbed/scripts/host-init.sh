#!/bin/bash
# First process of a testbed Host. Started by host-process.ts as
#   ip netns exec <netns> unshare --mount --uts --pid --fork --mount-proc --propagation private bash host-init.sh
# so it already runs in the Host's own network, mount, UTS and PID namespaces, as PID 1. It builds the Host's
# private view of the machine (prepared from Node: <host>/fstab, see host-mounts.ts), starts sshd and the
# heartbeat agent, prints "ready" and becomes the holder that keeps the namespaces alive and reaps the Host's
# orphans (a bash loop named flexvdi-testbed-<host>).
#
# Environment: TB_DIR TB_NAME TB_FQDN TB_SCRIPTS TB_MANAGER_URL TB_AGENT_AUTH TB_HB_MS.
set -euo pipefail

# Network: IPv4 only (no router solicitations or DAD noise on the testbed bridge), then addresses and the
# flexVDI bridges from net.batch. No default route: a Host reaches the testbed subnet and nothing else.
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
ip -batch "$TB_DIR/net.batch"
echo "$TB_NAME" >/proc/sys/kernel/hostname

# This mount namespace is a private copy of the machine's. The copies of /run/netns/* it inherited would pin
# other network namespaces (other Hosts, other testbeds) after `ip netns del`: drop them first.
umount -l /run/netns 2>/dev/null || true
mount -a -T "$TB_DIR/fstab"

# This machine's own network namespace, opened as fd 3 before the Host's were entered (host-process.ts), kept
# as /run/flexvdi-testbed/root.netns in this Host's mount namespace only: the "hypervisor" side the Manager
# guest's NIC is plugged into (flexvdi-manager). Mounted with the real mount(8); fd 3 closed before anything
# else starts.
if [ -e /proc/self/fd/3 ]; then
  : >/run/flexvdi-testbed/root.netns
  /run/flexvdi-testbed/usr.real/bin/mount --bind /proc/self/fd/3 /run/flexvdi-testbed/root.netns
  exec 3<&-
fi

# /etc/ocfs2 starts empty, whatever this machine has there (an opaque overlay directory).
shopt -s nullglob
ocfs2=(/etc/ocfs2/*)
if ((${#ocfs2[@]})); then
  rm -rf /etc/ocfs2
  mkdir -m 0755 /etc/ocfs2
fi

/usr/sbin/sshd -E /var/log/sshd.log
bash "$TB_SCRIPTS/heartbeat.sh" </dev/null >/dev/null 2>>/var/log/flexvdi-agent.log &

echo ready
exec -a "flexvdi-testbed-$TB_NAME" bash -c 'while :; do sleep 86400 & wait $!; done' </dev/null >/dev/null 2>&1
