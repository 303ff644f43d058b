/**
 * Raw output on demand (`/flexvdi job <id> --host <h>`), as Rundeck's and AWX's job logs give it: while a
 * job runs, every remote operation its plugin makes over the product's SSH pool is recorded per Host — the
 * command line, exit code, time, and the tail of stdout and stderr; file reads and atomic writes by path and
 * size — bounded (the last 40 entries per Host, 1500 characters per stream, 7 days) and with secrets
 * redacted: stdin is never recorded (that is where secrets go), private key blocks, `password=`/`secret=`/
 * `token=` values and Slack tokens are replaced.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorCode } from '../errors.js';
import type { SshPool, SshTarget } from '../ssh/index.js';

const MAX_ENTRIES = 40;
const MAX_STREAM = 1500;
const TTL_S = 7 * 86_400;

export const rawEntrySchema = z.object({
  at: z.string(),
  op: z.enum(['exec', 'read', 'write']),
  /** The command line, or the remote path. */
  what: z.string(),
  code: z.number().nullable(),
  ms: z.number(),
  stdout: z.string().default(''),
  stderr: z.string().default(''),
  /** The error code when the operation failed before a result (unreachable, timeout). */
  error: z.string().optional(),
});
export type RawEntry = z.output<typeof rawEntrySchema>;

const SECRETS: [RegExp, string][] = [
  [
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
    '[redacted private key]',
  ],
  [/\b(password|passwd|secret|token|api[_-]?key)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1$2[redacted]'],
  [/\bxox[abprs]-[A-Za-z0-9-]+/g, '[redacted slack token]'],
  [/\bxapp-[A-Za-z0-9-]+/g, '[redacted slack token]'],
];

export function redact(s: string): string {
  return SECRETS.reduce((t, [re, by]) => t.replace(re, by), s);
}

const tail = (s: string) => {
  const r = redact(s);
  return r.length > MAX_STREAM ? `…${r.slice(-MAX_STREAM)}` : r;
};

export class RawOutput {
  constructor(
    private readonly redis: Redis,
    private readonly key: (jobId: string, host: string) => string,
    private readonly log: Logger,
  ) {}

  /** An SSH pool that records what `jobId` does on each Host, then does it. */
  recording(ssh: SshPool, jobId: string): SshPool {
    const record = (t: SshTarget, e: Omit<RawEntry, 'at'>) => {
      const entry: RawEntry = { at: new Date().toISOString(), ...e, what: redact(e.what).slice(0, 500) };
      const k = this.key(jobId, t.name);
      this.redis
        .multi()
        .rpush(k, JSON.stringify(entry))
        .ltrim(k, -MAX_ENTRIES, -1)
        .expire(k, TTL_S)
        .exec()
        .catch((err: Error) => this.log.debug({ err: err.message }, 'raw output not recorded'));
    };
    const timed = async <T>(
      t: SshTarget,
      op: RawEntry['op'],
      what: string,
      run: () => Promise<T>,
      describe: (v: T) => Pick<RawEntry, 'code' | 'stdout' | 'stderr'>,
    ): Promise<T> => {
      const t0 = performance.now();
      try {
        const v = await run();
        record(t, { op, what, ms: Math.round(performance.now() - t0), ...describe(v) });
        return v;
      } catch (err) {
        const failed = failedResult(err);
        record(t, {
          op,
          what,
          ms: Math.round(performance.now() - t0),
          code: failed?.code ?? null,
          stdout: tail(failed?.stdout ?? ''),
          stderr: tail(failed?.stderr ?? ''),
          error: errorCode(err),
        });
        throw err;
      }
    };
    return {
      ...ssh,
      exec: (t, command, opts) =>
        timed(
          t,
          'exec',
          typeof command === 'string' ? command : command.join(' '),
          () => ssh.exec(t, command, opts),
          (r) => ({ code: r.code, stdout: tail(r.stdout), stderr: tail(r.stderr) }),
        ),
      readFile: (t, path, opts) =>
        timed(
          t,
          'read',
          path,
          () => ssh.readFile(t, path, opts),
          (v) => ({ code: 0, stdout: v === null ? '(no such file)' : `${v.length} characters`, stderr: '' }),
        ),
      writeFileAtomic: (t, path, content, opts) =>
        timed(
          t,
          'write',
          path,
          () => ssh.writeFileAtomic(t, path, content, opts),
          () => ({ code: 0, stdout: `wrote ${content.length} bytes (atomically)`, stderr: '' }),
        ),
    };
  }

  /** The recorded entries of a job on one Host, oldest first (validated; unreadable ones skipped). */
  async entries(jobId: string, host: string): Promise<RawEntry[]> {
    const raw = await this.redis.lrange(this.key(jobId, host), 0, -1);
    return raw.flatMap((r) => {
      try {
        const e = rawEntrySchema.safeParse(JSON.parse(r));
        return e.success ? [e.data] : [];
      } catch {
        return [];
      }
    });
  }
}

/** A failed command's exit code and output, when the error carries them (ssh.command_failed). */
function failedResult(err: unknown): { code: number | null; stdout: string; stderr: string } | undefined {
  const details =
    err && typeof err === 'object' && 'details' in err ? (err as { details?: unknown }).details : undefined;
  const d = z
    .object({
      code: z.number().nullable().optional(),
      stdoutTail: z.string().optional(),
      stderrTail: z.string().optional(),
    })
    .safeParse(details);
  return d.success
    ? { code: d.data.code ?? null, stdout: d.data.stdoutTail ?? '', stderr: d.data.stderrTail ?? '' }
    : undefined;
}
