/**
 * OpenSSH known_hosts: parsing, matching and fingerprints (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").
 *
 * Supported: plain host patterns (`host`, `[host]:port`, comma lists, `*`/`?` wildcards, `!negation`), hashed
 * entries `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, comments, and the `@revoked` / `@cert-authority`
 * markers (recognised, never treated as pins). Lines exactly as `ssh-keyscan` prints them are accepted.
 * Writing the file (pinning, replacing) lives in known-hosts-file.ts.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type KnownHostsMarker = '@revoked' | '@cert-authority';

export interface KnownHostsEntry {
  /** 1-based line number in the file. */
  line: number;
  marker: KnownHostsMarker | undefined;
  /** The host field as written: a comma list of patterns, or one hashed `|1|salt|hash` name. */
  hostField: string;
  hashed: boolean;
  keyType: string;
  keyBase64: string;
  comment: string | undefined;
}

export interface ParsedKnownHosts {
  /** Every line of the text, unchanged, so a rewrite keeps comments and lines it does not touch. */
  lines: string[];
  entries: KnownHostsEntry[];
  /** Lines that are neither blank, comments nor valid entries (kept on rewrite, never used as pins). */
  invalidLines: number[];
}

/** `SHA256:<base64 without padding>` of the key blob, exactly as `ssh-keygen -lf` prints it. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type stored at the start of an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('key blob too short');
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) throw new Error('malformed key blob');
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** Decodes a base64 key and checks that its embedded type is `keyType`; undefined when it is not a key. */
export function decodeKey(keyType: string, keyBase64: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) return undefined;
  const blob = Buffer.from(keyBase64, 'base64');
  try {
    return keyTypeOf(blob) === keyType ? blob : undefined;
  } catch {
    return undefined;
  }
}

/** The name known_hosts stores for host:port: `host` on port 22, `[host]:port` otherwise. */
export function hostPatternFor(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): ParsedKnownHosts {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const entries: KnownHostsEntry[] = [];
  const invalidLines: number[] = [];
  lines.forEach((raw, i) => {
    const trimmed = raw.replace(/\r$/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const entry = parseEntry(trimmed, i + 1);
    if (entry) entries.push(entry);
    else invalidLines.push(i + 1);
  });
  return { lines, entries, invalidLines };
}

function parseEntry(text: string, line: number): KnownHostsEntry | undefined {
  const fields = text.split(/[ \t]+/);
  let marker: KnownHostsMarker | undefined;
  if (fields[0]?.startsWith('@')) {
    const m = fields.shift();
    if (m !== '@revoked' && m !== '@cert-authority') return undefined;
    marker = m;
  }
  const [hostField, keyType, keyBase64, ...rest] = fields;
  if (!hostField || !keyType || !keyBase64) return undefined;
  if (!decodeKey(keyType, keyBase64)) return undefined;
  const hashed = hostField.startsWith('|');
  if (hashed && !parseHashed(hostField)) return undefined;
  return {
    line,
    marker,
    hostField,
    hashed,
    keyType,
    keyBase64,
    comment: rest.length ? rest.join(' ') : undefined,
  };
}

function parseHashed(field: string): { salt: Buffer; hash: Buffer } | undefined {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(field);
  if (!m) return undefined;
  const salt = Buffer.from(m[1]!, 'base64');
  const hash = Buffer.from(m[2]!, 'base64');
  return salt.length === 20 && hash.length === 20 ? { salt, hash } : undefined;
}

/** A hashed host name as `ssh-keygen -H` writes it; `salt` (20 bytes) defaults to random. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

/** OpenSSH `match_pattern`: `*` any run, `?` one character; the caller lowercases both sides. */
function globMatch(name: string, pattern: string): boolean {
  let n = 0;
  let p = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starN = n;
    } else if (pc !== undefined && (pc === '?' || pc === name[n])) {
      p++;
      n++;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Does the entry's host field name this host:port? Negated patterns veto (OpenSSH `match_hostname`).
 * Hashed entries are compared in constant time.
 */
export function entryMatchesHost(entry: KnownHostsEntry, host: string, port: number): boolean {
  const name = hostPatternFor(host.toLowerCase(), port);
  if (entry.hashed) {
    const h = parseHashed(entry.hostField);
    if (!h) return false;
    const mine = createHmac('sha1', h.salt).update(name).digest();
    return timingSafeEqual(mine, h.hash);
  }
  let matched = false;
  for (const raw of entry.hostField.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '' || !globMatch(name, pattern)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Pins for host:port: entries naming it without a marker (`@revoked`/`@cert-authority` are never pins). */
export function lookupPins(
  entries: readonly KnownHostsEntry[],
  host: string,
  port: number,
): KnownHostsEntry[] {
  return entries.filter((e) => e.marker === undefined && entryMatchesHost(e, host, port));
}

export type PinVerdict =
  | { status: 'match'; fingerprint: string }
  | { status: 'unknown'; fingerprint: string }
  | {
      status: 'mismatch';
      fingerprint: string;
      /** Fingerprints of the pins the key was compared with. */
      expected: string[];
      /** known_hosts line numbers of those pins (or of the `@revoked` line). */
      lines: number[];
      revoked: boolean;
    };

/**
 * Checks a server key against the pins of every name the Host goes by (its IP, and its FQDN when given).
 * The key must match a pin and no pin of the same key type may disagree (a stale entry under the other name
 * is a changed key, not a detail). A key listed under `@revoked` for one of the names is refused.
 */
export function checkHostKey(
  entries: readonly KnownHostsEntry[],
  names: readonly string[],
  port: number,
  keyBlob: Buffer,
): PinVerdict {
  const fingerprint = fingerprintSha256(keyBlob);
  const keyBase64 = keyBlob.toString('base64');
  const type = keyTypeOf(keyBlob);
  const forNames = (e: KnownHostsEntry) => names.some((n) => entryMatchesHost(e, n, port));
  const revoked = entries.find(
    (e) => e.marker === '@revoked' && e.keyType === type && sameKey(e.keyBase64, keyBase64) && forNames(e),
  );
  if (revoked) {
    return { status: 'mismatch', fingerprint, expected: [], lines: [revoked.line], revoked: true };
  }
  const pins = entries.filter((e) => e.marker === undefined && forNames(e));
  if (pins.length === 0) return { status: 'unknown', fingerprint };
  const sameType = pins.filter((e) => e.keyType === type);
  const conflicting = sameType.filter((e) => !sameKey(e.keyBase64, keyBase64));
  if (sameType.length > 0 && conflicting.length === 0) return { status: 'match', fingerprint };
  const compared = conflicting.length ? conflicting : pins;
  return {
    status: 'mismatch',
    fingerprint,
    expected: [...new Set(compared.map((e) => fingerprintSha256(Buffer.from(e.keyBase64, 'base64'))))],
    lines: compared.map((e) => e.line),
    revoked: false,
  };
}

function sameKey(aBase64: string, bBase64: string): boolean {
  return Buffer.from(aBase64, 'base64').equals(Buffer.from(bBase64, 'base64'));
}

/** The SSH host key algorithms that can present a key of this type (an `ssh-rsa` key signs with rsa-sha2-*). */
export function algorithmsForKeyType(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}
