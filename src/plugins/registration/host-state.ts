/**
 * What registration reads from a Host, in one SSH command: its hostnames, the flexvdi user's home and public
 * key, the three key files, its bridges and IPv4 addresses. The script is a constant (nothing from chat or
 * from other Hosts is ever part of it) and every value comes back base64-encoded, so no file content can be
 * mistaken for the output format.
 */
import { AppError } from '../../errors.js';
import type { SshPool, SshTarget } from '../../ssh/index.js';
import { type Address, type Bridges, bridgesOf, parseAddresses } from './bridges.js';
import { RegistrationErrorCode } from './errors.js';
import { type PublicKey, parseKeyLine } from './key-files.js';

/** The account flexVDI uses between Hosts (and whose public key the Manager records). */
export const FLEXVDI_USER = 'flexvdi';
export const SYSTEM_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts';

const INSPECT = `
out() { printf '%s %s\\n' "$1" "$(printf '%s' "$2" | base64 -w0)"; }
file() { if [ -n "$2" ] && [ -f "$2" ]; then printf '%s %s\\n' "$1" "$(base64 -w0 < "$2")"; else printf '%s -\\n' "$1"; fi; }
out hostname "$(hostname 2>/dev/null)"
out fqdn "$(hostname -f 2>/dev/null)"
home=$(getent passwd ${FLEXVDI_USER} | cut -d: -f6)
out home "$home"
pub=
if [ -n "$home" ]; then
  for k in id_ed25519 id_ecdsa id_rsa; do
    if [ -f "$home/.ssh/$k.pub" ]; then pub="$home/.ssh/$k.pub"; break; fi
  done
fi
file flexvdi_pub "$pub"
file authorized_keys "\${home:+$home/.ssh/authorized_keys}"
file user_known_hosts "\${home:+$home/.ssh/known_hosts}"
file known_hosts ${SYSTEM_KNOWN_HOSTS}
br=
for d in /sys/class/net/*/bridge; do [ -d "$d" ] || continue; n=\${d%/bridge}; br="$br \${n##*/}"; done
out bridges "$br"
out addr "$(ip -o -4 addr show 2>/dev/null)"
`;

export interface HostState {
  hostname: string;
  /** `hostname -f`; empty when the name does not resolve on the Host. */
  fqdn: string;
  /** Home of the flexvdi user; empty when there is no such user. */
  home: string;
  flexvdiPub: { line: string; key: PublicKey } | null;
  /** File contents; null when the file does not exist. */
  authorizedKeys: string | null;
  userKnownHosts: string | null;
  knownHosts: string | null;
  bridges: Bridges;
  addresses: Address[];
}

export function parseInspection(stdout: string): HostState {
  const v = new Map<string, string | null>();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z_]+) (-|[A-Za-z0-9+/=]*)$/.exec(line);
    if (m) v.set(m[1]!, m[2] === '-' ? null : Buffer.from(m[2]!, 'base64').toString('utf8'));
  }
  const text = (k: string) => v.get(k) ?? '';
  const pubLine = v.get('flexvdi_pub')?.trim() ?? '';
  const parsed = pubLine ? parseKeyLine(pubLine) : undefined;
  return {
    hostname: text('hostname').trim(),
    fqdn: text('fqdn').trim(),
    home: text('home').trim(),
    flexvdiPub: parsed ? { line: pubLine, key: parsed.key } : null,
    authorizedKeys: v.get('authorized_keys') ?? null,
    userKnownHosts: v.get('user_known_hosts') ?? null,
    knownHosts: v.get('known_hosts') ?? null,
    bridges: bridgesOf(text('bridges').split(/\s+/).filter(Boolean), parseAddresses(text('addr'))),
    addresses: parseAddresses(text('addr')),
  };
}

export async function inspectHost(
  ssh: SshPool,
  t: SshTarget,
  signal?: AbortSignal | undefined,
): Promise<HostState> {
  const r = await ssh.exec(t, ['sh', '-c', INSPECT], signal ? { signal } : {});
  return parseInspection(r.stdout);
}

/** The flexvdi key, or an error saying what the Host lacks. */
export function requireFlexvdiKey(name: string, s: HostState): { line: string; key: PublicKey } {
  if (s.flexvdiPub) return s.flexvdiPub;
  const why = s.home
    ? `has no SSH key pair (no ${s.home}/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub)`
    : 'does not exist';
  throw new AppError(RegistrationErrorCode.noFlexvdiKey, `${name}: user ${FLEXVDI_USER} ${why}`, {
    userMessage: `On ${name}, the user \`${FLEXVDI_USER}\` ${why}. Install the Host as flexVDI requires (the flexvdi user with its key pair), then try again.`,
  });
}

/** The name the Host gives itself that matches `fqdn` (case-insensitive), or undefined. */
export function hostnameMatches(s: HostState, fqdn: string): boolean {
  const want = fqdn.toLowerCase();
  return s.hostname.toLowerCase() === want || s.fqdn.toLowerCase() === want;
}

export function describeHostname(s: HostState): string {
  if (!s.hostname) return 'no hostname';
  return s.fqdn && s.fqdn !== s.hostname
    ? `\`${s.hostname}\` (\`hostname -f\`: \`${s.fqdn}\`)`
    : `\`${s.hostname}\``;
}

/**
 * Makes sure ~flexvdi/.ssh exists (0700) and authorized_keys exists (0600), both owned by the flexvdi user,
 * so the atomic write that follows keeps that owner. The home path is passed as an argument, quoted.
 */
export async function ensureAuthorizedKeysFile(
  ssh: SshPool,
  t: SshTarget,
  home: string,
  signal?: AbortSignal | undefined,
): Promise<void> {
  const script =
    'set -e; g=$(id -g "$1"); install -d -m 700 -o "$1" -g "$g" "$2/.ssh"; ' +
    '[ -e "$2/.ssh/authorized_keys" ] || install -m 600 -o "$1" -g "$g" /dev/null "$2/.ssh/authorized_keys"';
  await ssh.exec(t, ['sh', '-c', script, 'ensure-keys', FLEXVDI_USER, home], signal ? { signal } : {});
}

const PROBE = `
for t; do
  (
    ip=\${t%:*}; port=\${t##*:}
    if out=$(runuser -u ${FLEXVDI_USER} -- ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes \\
        -o ConnectTimeout=8 -o LogLevel=ERROR -p "$port" "${FLEXVDI_USER}@$ip" true 2>&1 </dev/null); then
      echo "ok $t"
    else
      echo "fail $t $(printf '%s' "$out" | tail -n 1 | base64 -w0)"
    fi
  ) &
done
wait
`;

export interface ProbeOutcome {
  ip: string;
  port: number;
  ok: boolean;
  error?: string;
}

/**
 * From Host `from`, as the flexvdi user, `ssh -o StrictHostKeyChecking=yes -o BatchMode=yes` to each of
 * `to` (in parallel) — the connection flexVDI itself makes between Hosts.
 */
export async function probeFrom(
  ssh: SshPool,
  from: SshTarget,
  to: readonly { ip: string; port: number }[],
  signal?: AbortSignal | undefined,
): Promise<ProbeOutcome[]> {
  if (to.length === 0) return [];
  const r = await ssh.exec(
    from,
    ['sh', '-c', PROBE, 'probe', ...to.map((d) => `${d.ip}:${d.port}`)],
    signal ? { signal } : {},
  );
  const seen = new Map<string, ProbeOutcome>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(ok|fail) (\d{1,3}(?:\.\d{1,3}){3}):(\d+)(?: ([A-Za-z0-9+/=]*))?$/.exec(line);
    if (!m) continue;
    const error =
      m[1] === 'fail'
        ? Buffer.from(m[4] ?? '', 'base64')
            .toString('utf8')
            .trim()
        : undefined;
    seen.set(`${m[2]}:${m[3]}`, {
      ip: m[2]!,
      port: Number(m[3]),
      ok: m[1] === 'ok',
      ...(m[1] === 'fail' ? { error: error || 'ssh failed' } : {}),
    });
  }
  return to.map(
    (d) =>
      seen.get(`${d.ip}:${d.port}`) ?? {
        ip: d.ip,
        port: d.port,
        ok: false,
        error: 'no answer from the check',
      },
  );
}
