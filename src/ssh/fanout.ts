/**
 * Runs one async step on many Hosts with a concurrency limit. Every Host gets a result in input order; a
 * failing Host never stops the others. On abort no new Host is started (those get `job.cancelled`) and the
 * call returns once the running ones have settled (they receive the same signal).
 */
import { type AppError, asAppError } from '../errors.js';
import { cancelledError } from './errors.js';
import type { SshTarget } from './types.js';

export type FanoutResult<T, Target = SshTarget> =
  | { target: Target; ok: true; value: T }
  | { target: Target; ok: false; error: AppError };

export interface FanoutOptions {
  concurrency: number;
  signal?: AbortSignal;
}

export async function fanout<T, Target extends { name: string } = SshTarget>(
  targets: readonly Target[],
  fn: (target: Target, signal: AbortSignal | undefined) => Promise<T>,
  opts: FanoutOptions,
): Promise<Array<FanoutResult<T, Target>>> {
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) {
    throw new RangeError(`fanout: concurrency must be a positive integer, got ${opts.concurrency}`);
  }
  const results = new Array<FanoutResult<T, Target>>(targets.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const target = targets[i];
      if (target === undefined) return;
      if (opts.signal?.aborted) {
        results[i] = { target, ok: false, error: cancelledError(`step on ${target.name}`) };
        continue;
      }
      try {
        results[i] = { target, ok: true, value: await fn(target, opts.signal) };
      } catch (err) {
        results[i] = { target, ok: false, error: asAppError(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, targets.length) }, worker));
  return results;
}
