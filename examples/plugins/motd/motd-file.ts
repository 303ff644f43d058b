/**
 * /etc/motd on a Host, over the product's SSH pool (never a second SSH client): read it on many Hosts at
 * once, write it atomically with a backup, and the pure helpers around the file. A write is idempotent:
 * `writeFileAtomic` compares first, so the same content again changes nothing and makes no second backup.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../src/config.js';
import type { ProgressReporter } from '../../../src/core/plugin.js';
import { targetOf } from '../../../src/services.js';
import { fanout, type SshPool } from '../../../src/ssh/index.js';

export const MOTD = '/etc/motd';

/** The file a text becomes. */
export const motdFileOf = (text: string): string => `${text}\n`;

/** The line a reader notices: the first non-blank one (Debian's stock motd starts with an empty line). */
export function headline(content: string): string {
  return (
    content
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

/** What one Host's /etc/motd was seen to be: its content (null: no file), or why it could not be read. */
export const hostMotdSchema = z.discriminatedUnion('reachable', [
  z.object({ host: z.string(), reachable: z.literal(true), content: z.string().nullable() }),
  z.object({ host: z.string(), reachable: z.literal(false), error: z.string() }),
]);
export type HostMotd = z.output<typeof hostMotdSchema>;

export function readMotd(ssh: SshPool, host: InventoryHost, signal: AbortSignal): Promise<string | null> {
  return ssh.readFile(targetOf(host), MOTD, { signal });
}

/**
 * Reads /etc/motd on every Host in parallel (the inventory's SSH concurrency); a Host that does not answer
 * is reported with its error's user message, never thrown. `progress`: per-Host states for the job message.
 */
export async function readMotds(
  services: { ssh: SshPool; concurrency: number },
  hosts: readonly InventoryHost[],
  signal: AbortSignal,
  progress?: ProgressReporter,
): Promise<HostMotd[]> {
  const results = await fanout(
    hosts,
    async (h) => {
      progress?.host(h.name, 'running', 'reading /etc/motd');
      const content = await readMotd(services.ssh, h, signal);
      progress?.host(h.name, 'ok');
      return content;
    },
    { concurrency: services.concurrency, signal },
  );
  return results.map((r): HostMotd => {
    if (r.ok) return { host: r.target.name, reachable: true, content: r.value };
    progress?.host(r.target.name, 'failed', r.error.code);
    return { host: r.target.name, reachable: false, error: r.error.userMessage };
  });
}

export const writtenSchema = z.object({ changed: z.boolean(), backup: z.string().nullable() });
export type Written = z.output<typeof writtenSchema>;

/** Writes `text` as the Host's /etc/motd (temp file + rename); the old file is kept as `/etc/motd.bak.<time>`. */
export async function writeMotd(
  ssh: SshPool,
  host: InventoryHost,
  text: string,
  signal: AbortSignal,
): Promise<Written> {
  const r = await ssh.writeFileAtomic(targetOf(host), MOTD, motdFileOf(text), { backup: true, signal });
  return { changed: r.changed, backup: r.backupPath ?? null };
}
