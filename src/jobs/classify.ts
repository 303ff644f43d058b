/**
 * What to do with a job that threw: one pure decision, by error code (errors read back from Redis or thrown
 * by a library are not our classes, so never `instanceof`). An aborted step's own error (often a bare
 * AbortError) is explained by the abort's reason, which the engine always sets to a coded AppError:
 * `job.cancelled` (someone cancelled) or `lock.lost` (another job took the Host). A step that finished some
 * Hosts and not others (`job.incomplete`) ends the job "partly done", after automatic retries when every
 * failure was transient.
 */
import { type IncompleteDetails, incompleteDetailsOf } from '../core/partial.js';
import { type AppError, asAppError, ErrorCode, errorCode, isRetryableCode } from '../errors.js';

export type Verdict =
  | { kind: 'cancelled'; error: AppError }
  | { kind: 'partial'; error: AppError; details: IncompleteDetails }
  | { kind: 'retry'; error: AppError }
  | { kind: 'fail'; error: AppError };

export interface ClassifyInput {
  err: unknown;
  /** The job's AbortSignal reason, when it fired. */
  abortReason?: unknown;
  /** Attempts made before this one, and allowed in all. */
  attemptsMade: number;
  attempts: number;
}

export function classify(i: ClassifyInput): Verdict {
  const reasonCode = i.abortReason === undefined ? undefined : errorCode(i.abortReason);
  const explained = reasonCode && reasonCode !== ErrorCode.internal ? i.abortReason : i.err;
  const error = asAppError(explained);
  if (error.code === ErrorCode.jobCancelled) return { kind: 'cancelled', error };
  const partial = error.code === ErrorCode.jobIncomplete ? incompleteDetailsOf(error) : undefined;
  if (partial) {
    // Only transient per-Host failures are worth an automatic retry; otherwise a person fixes the Hosts.
    if (partial.retryable && i.attemptsMade + 1 < i.attempts) return { kind: 'retry', error };
    return { kind: 'partial', error, details: partial };
  }
  if (isRetryableCode(error.code) && i.attemptsMade + 1 < i.attempts) return { kind: 'retry', error };
  return { kind: 'fail', error };
}
