/**
 * Partial results, first-class. A fan-out step that finished some Hosts and not others ends with
 * `throw incomplete(…)`: its per-Host sub-checkpoints keep what was done, the step itself is not
 * checkpointed, and the job ends "partly done" (its own state in the message, `/flexvdi jobs`, the audit
 * trail and the metrics). `/flexvdi retry <id>` then runs that step again — the Hosts already done are
 * skipped by their checkpoints, so exactly the ones that did not finish run — and the steps after it.
 * When every failure is transient (a Host unreachable), the engine first retries by itself.
 */
import { z } from 'zod';
import { AppError, ErrorCode, isRetryableCode } from '../errors.js';

export const incompleteDetailsSchema = z.object({
  /** Hosts that finished this step. */
  done: z.array(z.string()),
  /** Hosts that did not, with the code and the sentence of what went wrong. */
  failed: z.record(z.object({ code: z.string(), message: z.string() })),
  /** Every failure was transient: worth an automatic retry. */
  retryable: z.boolean(),
});
export type IncompleteDetails = z.output<typeof incompleteDetailsSchema>;

export interface IncompleteInput {
  /** What the step was doing, as a sentence start: "Updating the SSH keys", "Joining". */
  what: string;
  jobId: string;
  done: readonly string[];
  failed: ReadonlyMap<string, AppError>;
  /** Words for the Hosts that are done, e.g. "joined" (default: "done"). */
  doneWord?: string;
}

export function incomplete(i: IncompleteInput): AppError {
  const failedNames = [...i.failed.keys()];
  const list = [...i.failed.entries()].map(([n, e]) => `${n} (${e.userMessage})`).join('; ');
  const n = i.done.length;
  const doneText = i.doneWord
    ? n
      ? `${i.done.join(', ')} ${i.doneWord}. `
      : ''
    : `${n} other Host${n === 1 ? ' is' : 's are'} done. `;
  const details: IncompleteDetails = {
    done: [...i.done],
    failed: Object.fromEntries(
      [...i.failed.entries()].map(([h, e]) => [h, { code: e.code, message: e.userMessage }]),
    ),
    retryable: [...i.failed.values()].every((e) => isRetryableCode(e.code)),
  };
  return new AppError(ErrorCode.jobIncomplete, `${i.what} failed on ${failedNames.join(', ')}`, {
    userMessage:
      `${i.what} failed on ${list}. ${doneText}` +
      `Fix the Host${i.failed.size === 1 ? '' : 's'} named, then \`/flexvdi retry ${i.jobId}\` finishes only what is missing.`,
    details,
  });
}

/** The per-Host outcome of an `incomplete` error (also one read back from Redis), or undefined. */
export function incompleteDetailsOf(err: unknown): IncompleteDetails | undefined {
  if (!err || typeof err !== 'object' || !('details' in err)) return undefined;
  const d = incompleteDetailsSchema.safeParse((err as { details?: unknown }).details);
  return d.success ? d.data : undefined;
}

/** One Host's outcome in a fan-out (the shape `fanout` returns). */
export type HostOutcome<T> =
  | { ok: true; target: { name: string }; value: T }
  | { ok: false; target: { name: string }; error: AppError };

/**
 * The end of a per-Host fan-out step: each Host's value by name; when any Host failed, each failure is shown
 * on the Host's progress line and `incomplete(…)` is thrown naming the Hosts done and not (`what`: "Joining";
 * `doneWord`: "joined").
 */
export function settleHosts<T>(
  results: readonly HostOutcome<T>[],
  ctx: {
    jobId: string;
    progress: { host(host: string, state: 'failed', detail?: string): void };
  },
  what: string,
  doneWord: string,
): Record<string, T> {
  const out: Record<string, T> = {};
  const failed = new Map<string, AppError>();
  for (const r of results) {
    if (r.ok) out[r.target.name] = r.value;
    else {
      failed.set(r.target.name, r.error);
      ctx.progress.host(r.target.name, 'failed', r.error.userMessage.slice(0, 200));
    }
  }
  if (failed.size) throw incomplete({ what, jobId: ctx.jobId, doneWord, done: Object.keys(out), failed });
  return out;
}
