/**
 * Editing the product's known_hosts file: pin a Host's key (first contact, after the operator confirmed the
 * fingerprint) and replace a pin (replace-host). Every edit is idempotent, serialised (in-process queue plus
 * a `<file>.lock` lock file for other processes on this machine), written atomically (temp file in the same
 * folder, fsync, rename) and keeps every other line byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, ErrorCode } from '../errors.js';
import { SshErrorCode } from './errors.js';
import {
  decodeKey,
  entryMatchesHost,
  fingerprintSha256,
  hostPatternFor,
  type KnownHostsEntry,
  lookupPins,
  type ParsedKnownHosts,
  parseKnownHosts,
} from './known-hosts.js';

export interface HostKey {
  keyType: string;
  keyBase64: string;
}

/** Reads and parses a known_hosts file; a missing file is an empty one. */
export async function readKnownHosts(file: string): Promise<ParsedKnownHosts> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return parseKnownHosts('');
    throw err;
  }
}

export interface PinResult {
  changed: boolean;
  /** Host patterns written by this call (empty when the pin was already there). */
  added: string[];
}

/**
 * Pins `keyType keyBase64` for every host name at `port`. Names already pinned to this key are left alone
 * (no duplicate line); a name pinned to a different key of the same type is refused with
 * `ssh.hostkey_mismatch` (that is replacePin's job, after the operator said so).
 */
export async function pinHostKey(
  file: string,
  hostnames: readonly string[],
  port: number,
  keyType: string,
  keyBase64: string,
): Promise<PinResult> {
  const names = checkNames(hostnames);
  const blob = checkKey(keyType, keyBase64);
  return withFileLock(file, async () => {
    const kh = await readKnownHosts(file);
    const revoked = kh.entries.find(
      (e) => e.marker === '@revoked' && isKey(e, blob) && names.some((n) => entryMatchesHost(e, n, port)),
    );
    if (revoked) {
      throw new AppError(ErrorCode.sshHostkeyMismatch, `${file}:${revoked.line} revokes this key`, {
        userMessage: `The key ${fingerprintSha256(blob)} is marked @revoked in ${file}; it cannot be pinned.`,
      });
    }
    const missing: string[] = [];
    for (const name of names) {
      const pins = lookupPins(kh.entries, name, port).filter((e) => e.keyType === keyType);
      if (pins.some((e) => isKey(e, blob))) continue;
      const other = pins[0];
      if (other) {
        throw new AppError(
          ErrorCode.sshHostkeyMismatch,
          `${file}:${other.line} already pins a different ${keyType} key for ${name}`,
          {
            details: { name, line: other.line, pinned: fingerprint(other), offered: fingerprintSha256(blob) },
            userMessage:
              `${name} already has a different pinned ${keyType} key (${fingerprint(other)}). If the Host was ` +
              'reinstalled or replaced on purpose, re-pin it with the replace procedure.',
          },
        );
      }
      missing.push(hostPatternFor(name, port));
    }
    if (missing.length === 0) return { changed: false, added: [] };
    const lines = [...kh.lines, `${missing.join(',')} ${keyType} ${keyBase64}`];
    await writeFileAtomicLocal(file, `${lines.join('\n')}\n`);
    return { changed: true, added: missing };
  });
}

export interface ReplaceResult {
  changed: boolean;
  /** Old pins removed (entries or names within an entry). */
  removed: number;
  /** Copy of the file before the change, `<file>.bak.<timestamp>`; undefined when nothing changed. */
  backupPath: string | undefined;
}

/**
 * Makes `newKey` the only pin for every host name at `port`: removes their old pins (all key types: the
 * Host was reinstalled or replaced), appends the new one and keeps a backup of the previous file. Running
 * it again changes nothing. Names inside shared comma lists are cut out of the list; a wildcard entry that
 * would still pin the Host is refused (it must be edited by hand).
 */
export async function replacePin(
  file: string,
  hostnames: readonly string[],
  port: number,
  newKey: HostKey,
): Promise<ReplaceResult> {
  const names = checkNames(hostnames);
  const blob = checkKey(newKey.keyType, newKey.keyBase64);
  return withFileLock(file, async () => {
    const kh = await readKnownHosts(file);
    const done = names.every((n) => {
      const pins = lookupPins(kh.entries, n, port);
      return pins.length > 0 && pins.every((e) => isKey(e, blob));
    });
    if (done) return { changed: false, removed: 0, backupPath: undefined };

    const lines: Array<string | undefined> = [...kh.lines];
    const literal = new Set(names.map((n) => hostPatternFor(n, port)));
    let removed = 0;
    for (const e of kh.entries) {
      if (e.marker !== undefined || !names.some((n) => entryMatchesHost(e, n, port))) continue;
      if (e.hashed) {
        lines[e.line - 1] = undefined;
        removed++;
        continue;
      }
      const patterns = e.hostField.split(',');
      const kept = patterns.filter((p) => !literal.has(p.toLowerCase()));
      removed += patterns.length - kept.length;
      const rest = { ...e, hostField: kept.join(',') };
      if (kept.length > 0 && names.some((n) => entryMatchesHost(rest, n, port))) {
        throw new AppError(
          SshErrorCode.knownHostsInvalid,
          `${file}:${e.line} pins the Host through a pattern`,
          {
            userMessage:
              `Line ${e.line} of ${file} ("${e.hostField}") pins this Host through a wildcard or negated pattern. ` +
              'Edit that line by hand, then run the procedure again.',
          },
        );
      }
      lines[e.line - 1] = kept.some((p) => !p.startsWith('!'))
        ? replaceHostField(kh.lines, e, rest)
        : undefined;
    }
    lines.push(`${[...literal].join(',')} ${newKey.keyType} ${newKey.keyBase64}`);
    const backupPath = `${file}.bak.${backupStamp()}`;
    const existed = kh.lines.length > 0;
    if (existed) await copyFile(file, backupPath);
    const text = lines.filter((l) => l !== undefined).join('\n');
    await writeFileAtomicLocal(file, `${text}\n`);
    return { changed: true, removed, backupPath: existed ? backupPath : undefined };
  });
}

/** `20251125T141200.123Z`: sortable, no characters a shell or a file name would mind. */
export function backupStamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '');
}

function replaceHostField(lines: readonly string[], e: KnownHostsEntry, rest: KnownHostsEntry): string {
  const raw = lines[e.line - 1]!;
  const at = raw.indexOf(e.hostField);
  return raw.slice(0, at) + rest.hostField + raw.slice(at + e.hostField.length);
}

function fingerprint(e: KnownHostsEntry): string {
  return fingerprintSha256(Buffer.from(e.keyBase64, 'base64'));
}

function isKey(e: KnownHostsEntry, blob: Buffer): boolean {
  return Buffer.from(e.keyBase64, 'base64').equals(blob);
}

/** IPs and DNS names only: anything else could smuggle a pattern, a marker or a second field into the file. */
function checkNames(hostnames: readonly string[]): string[] {
  const names = [...new Set(hostnames.map((h) => h.toLowerCase()))];
  if (names.length === 0) throw new AppError(SshErrorCode.knownHostsInvalid, 'no host name to pin');
  for (const n of names) {
    if (!/^[a-z0-9][a-z0-9.:-]*$/.test(n) || n.length > 253) {
      throw new AppError(
        SshErrorCode.knownHostsInvalid,
        `not a host name or IP address: ${JSON.stringify(n)}`,
      );
    }
  }
  return names;
}

function checkKey(keyType: string, keyBase64: string): Buffer {
  const blob = /^[a-z0-9@.-]+$/.test(keyType) ? decodeKey(keyType, keyBase64) : undefined;
  if (!blob) {
    throw new AppError(SshErrorCode.keyInvalid, `not a valid ${keyType} public key`, {
      userMessage: `The host key given is not a valid ${keyType} public key (as ssh-keyscan prints it).`,
    });
  }
  return blob;
}

/** temp file in the same folder + fsync + rename + fsync of the folder; keeps the old file's mode. */
export async function writeFileAtomicLocal(file: string, text: string): Promise<void> {
  const mode = await stat(file).then(
    (s) => s.mode & 0o7777,
    () => 0o644,
  );
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

const queues = new Map<string, Promise<unknown>>();
const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 30_000;

/** Runs `fn` holding the file's lock: one edit at a time in this process and across processes. */
async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(file);
  const prev = queues.get(key) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(() => underLockFile(key, fn));
  queues.set(key, run);
  try {
    return await run;
  } finally {
    if (queues.get(key) === run) queues.delete(key);
  }
}

async function underLockFile<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) {
        await unlink(lock).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new AppError(ErrorCode.lockBusy, `${lock} is held by another process`, {
          userMessage: `Another process is editing ${file}; try again in a moment.`,
        });
      }
      await sleep(25);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => {});
  }
}
