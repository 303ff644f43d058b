/**
 * Whether a Host is a node of the OCFS2 cluster, read from a registered Host's /etc/ocfs2/cluster.conf
 * (byte-identical on every node). A node's `name` matches a Host's hostname case-insensitively, exactly or
 * as the part before the first '.'. The rejoin itself belongs to the OCFS2 plugin.
 */
export const CLUSTER_CONF = '/etc/ocfs2/cluster.conf';

export interface Ocfs2Membership {
  cluster: string;
  node: string;
  number: string;
}

export function ocfs2NodeOf(conf: string, name: string, fqdn: string): Ocfs2Membership | undefined {
  const wanted = new Set([name.toLowerCase(), fqdn.toLowerCase(), fqdn.toLowerCase().split('.')[0]!]);
  let stanza = '';
  let fields: Record<string, string> = {};
  const found: Record<string, string>[] = [];
  let cluster = '';
  const flush = () => {
    if (stanza === 'node') found.push(fields);
    if (stanza === 'cluster' && fields['name']) cluster = fields['name'];
  };
  for (const line of conf.split('\n')) {
    const head = /^([a-z]+):\s*$/.exec(line);
    if (head) {
      flush();
      stanza = head[1]!;
      fields = {};
      continue;
    }
    const kv = /^\s+([a-z_]+)\s*=\s*(\S*)\s*$/.exec(line);
    if (kv) fields[kv[1]!] = kv[2]!;
  }
  flush();
  for (const n of found) {
    const nodeName = (n['name'] ?? '').toLowerCase();
    if (wanted.has(nodeName) || wanted.has(nodeName.split('.')[0]!)) {
      return { cluster: n['cluster'] ?? cluster, node: n['name']!, number: n['number'] ?? '?' };
    }
  }
  return undefined;
}
