/**
 * The SSH key files registration keeps in step on every Host, as pure text transformations (the remote side
 * only reads and writes whole files). What "in sync" means, for the set of registered Hosts ("members"):
 *
 * - `~flexvdi/.ssh/authorized_keys`: every member's flexvdi public key exactly once. Lines the product adds
 *   carry the comment `flexvdi@<fqdn>`; a line with that comment and another key is the key of a machine
 *   that was replaced, and is removed. Every other line is left byte for byte.
 * - `/etc/ssh/ssh_known_hosts` (system-wide, root-owned: the flexvdi user cannot alter it): one line per
 *   member host key, naming the member's IP, FQDN and short name. A line naming a member with a different
 *   key (a replaced machine) loses that member's names, or goes when no name is left.
 * - `~flexvdi/.ssh/known_hosts`: never added to; stale lines for members are removed the same way, so an old
 *   key accepted by hand cannot outlive a replacement.
 *
 * Keys are compared by type and base64 blob, never by comment or options.
 */
import { z } from 'zod';
import {
  decodeKey,
  entryMatchesHost,
  fingerprintSha256,
  type HostKeyProbe,
  hostPatternFor,
  type KnownHostsEntry,
  parseKnownHosts,
} from '../../ssh/index.js';

/** A public key by type and base64 blob; the schema checks what comes back from Redis (plans, checkpoints). */
export const publicKeySchema = z.object({
  keyType: z.string().regex(/^[a-z0-9@.-]+$/),
  keyBase64: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});
export type PublicKey = z.output<typeof publicKeySchema>;

export interface Member {
  name: string;
  fqdn: string;
  ip: string;
  port: number;
  /** The flexvdi user's public key; null when it could not be read (the Host's lines are left alone). */
  flexvdiKey: PublicKey | null;
  /** The host keys pinned for it by the product (its known_hosts); empty: its lines are left alone. */
  hostKeys: PublicKey[];
}

export interface Edit {
  text: string;
  added: number;
  removed: number;
}

export const keyId = (k: PublicKey): string => `${k.keyType} ${k.keyBase64}`;
export const keyOfProbe = (p: HostKeyProbe): PublicKey => ({ keyType: p.keyType, keyBase64: p.keyBase64 });
export const sameKey = (a: PublicKey, b: PublicKey): boolean =>
  a.keyType === b.keyType && a.keyBase64 === b.keyBase64;
export const fingerprintOf = (k: PublicKey): string => fingerprintSha256(Buffer.from(k.keyBase64, 'base64'));
export const flexvdiTag = (fqdn: string): string => `flexvdi@${fqdn.toLowerCase()}`;

/**
 * The key in an OpenSSH public key or authorized_keys line (options first are allowed), and what follows it.
 * Undefined for blank lines, comments and anything that is not a valid key of its stated type.
 */
export function parseKeyLine(line: string): { key: PublicKey; comment: string } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const words = trimmed.split(/\s+/);
  for (let i = 0; i + 1 < words.length; i++) {
    const keyType = words[i]!;
    const keyBase64 = words[i + 1]!;
    if (/^(ssh|ecdsa|sk)-[a-z0-9@.-]+$/.test(keyType) && decodeKey(keyType, keyBase64)) {
      return { key: { keyType, keyBase64 }, comment: words.slice(i + 2).join(' ') };
    }
  }
  return undefined;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function joinLines(lines: readonly (string | undefined)[]): string {
  const kept = lines.filter((l): l is string => l !== undefined);
  return kept.length ? `${kept.join('\n')}\n` : '';
}

/** authorized_keys of the flexvdi user with every member's flexvdi key exactly once. */
export function convergeAuthorizedKeys(text: string, members: readonly Member[]): Edit {
  const lines: (string | undefined)[] = splitLines(text);
  const parsed = lines.map((l) => (l === undefined ? undefined : parseKeyLine(l)));
  let added = 0;
  let removed = 0;
  for (const m of members) {
    if (!m.flexvdiKey) continue;
    const tag = flexvdiTag(m.fqdn);
    let seen = false;
    parsed.forEach((p, i) => {
      if (!p || lines[i] === undefined) return;
      const mine = sameKey(p.key, m.flexvdiKey!);
      const stale = !mine && p.comment === tag;
      if ((mine && seen) || stale) {
        lines[i] = undefined;
        removed++;
      } else if (mine) seen = true;
    });
    if (!seen) {
      lines.push(`${keyId(m.flexvdiKey)} ${tag}`);
      parsed.push(undefined);
      added++;
    }
  }
  return { text: joinLines(lines), added, removed };
}

function namesOf(m: Member): string[] {
  return [...new Set([m.ip, m.fqdn.toLowerCase(), m.name.toLowerCase()])];
}

/**
 * known_hosts with, per member host key, exactly one line naming all of the member's names (`manage`), or
 * only with the member's stale lines removed (`clean`: for the user's own file).
 */
export function convergeKnownHosts(text: string, members: readonly Member[], mode: 'manage' | 'clean'): Edit {
  const kh = parseKnownHosts(text);
  const lines: (string | undefined)[] = [...kh.lines];
  const fields = new Map<number, string[]>(); // line → remaining host patterns (plain entries we edited)
  let added = 0;
  let removed = 0;
  const alive = (e: KnownHostsEntry) => lines[e.line - 1] !== undefined;
  const patternsOf = (e: KnownHostsEntry) => fields.get(e.line) ?? e.hostField.split(',');
  const dropNames = (e: KnownHostsEntry, literal: Set<string>) => {
    if (e.hashed) {
      lines[e.line - 1] = undefined;
      removed++;
      return;
    }
    const kept = patternsOf(e).filter((p) => !literal.has(p.toLowerCase()));
    if (kept.length === patternsOf(e).length) return; // named through a wildcard: not ours to edit
    removed++;
    if (kept.some((p) => !p.startsWith('!'))) fields.set(e.line, kept);
    else {
      lines[e.line - 1] = undefined;
      fields.delete(e.line);
    }
  };
  for (const m of members) {
    if (m.hostKeys.length === 0) continue;
    const names = namesOf(m);
    const literal = new Set(names.map((n) => hostPatternFor(n, m.port)));
    const naming = () =>
      kh.entries.filter(
        (e) =>
          e.marker === undefined &&
          alive(e) &&
          names.some((n) => entryMatchesHost({ ...e, hostField: patternsOf(e).join(',') }, n, m.port)),
      );
    for (const e of naming()) {
      if (!m.hostKeys.some((k) => k.keyType === e.keyType && k.keyBase64 === e.keyBase64))
        dropNames(e, literal);
    }
    if (mode === 'clean') continue;
    for (const k of m.hostKeys) {
      const withKey = naming().filter((e) => e.keyType === k.keyType && e.keyBase64 === k.keyBase64);
      const complete = withKey.filter(
        (e) => !e.hashed && [...literal].every((p) => patternsOf(e).some((q) => q.toLowerCase() === p)),
      );
      if (withKey.length === 1 && complete.length === 1) continue;
      for (const e of withKey) dropNames(e, literal);
      lines.push(`${[...literal].join(',')} ${keyId(k)}`);
      added++;
    }
  }
  for (const [line, kept] of fields) {
    const e = kh.entries.find((x) => x.line === line)!;
    const raw = kh.lines[line - 1]!;
    const at = raw.indexOf(e.hostField);
    lines[line - 1] = raw.slice(0, at) + kept.join(',') + raw.slice(at + e.hostField.length);
  }
  return { text: joinLines(lines), added, removed };
}

/** How many lines of `text` hold `key` (what the tests and `/flexvdi hosts` count). */
export function linesWithKey(text: string, key: PublicKey): number {
  return splitLines(text).filter((l) => {
    const words = l.trim().split(/\s+/);
    return words.some((w, i) => w === key.keyType && words[i + 1] === key.keyBase64);
  }).length;
}
