import { describe, expect, it } from 'vitest';
import { incomplete } from '../../src/core/partial.js';
import { AppError, ErrorCode } from '../../src/errors.js';
import { classify } from '../../src/jobs/classify.js';

/** What `fetch`, ssh2 wrappers and `AbortSignal.throwIfAborted` throw when a signal fires. */
const abortError = () => new DOMException('This operation was aborted', 'AbortError');
const lockLost = () =>
  new AppError(ErrorCode.lockLost, 'lock on host:h1 lost', { userMessage: 'Another job took h1.' });
const cancelled = () =>
  new AppError(ErrorCode.jobCancelled, 'cancelled by U1', { userMessage: 'Cancelled by <@U1>.' });

describe('classify', () => {
  it('an abort reason of lock.lost explains the AbortError a step threw (retried while attempts are left)', () => {
    const v = classify({ err: abortError(), abortReason: lockLost(), attemptsMade: 0, attempts: 3 });
    expect(v.kind).toBe('retry');
    expect(v.error.code).toBe('lock.lost');
    expect(v.error.userMessage).toBe('Another job took h1.');
    const last = classify({ err: abortError(), abortReason: lockLost(), attemptsMade: 2, attempts: 3 });
    expect(last).toMatchObject({ kind: 'fail', error: { code: 'lock.lost' } });
    // Without the reason, the same AbortError is only an internal failure.
    expect(classify({ err: abortError(), attemptsMade: 0, attempts: 3 })).toMatchObject({
      kind: 'fail',
      error: { code: ErrorCode.internal },
    });
  });

  it('job.cancelled → cancelled, whether it is the reason or the error, and never retried', () => {
    const byReason = classify({ err: abortError(), abortReason: cancelled(), attemptsMade: 0, attempts: 3 });
    expect(byReason.kind).toBe('cancelled');
    expect(byReason.error.code).toBe('job.cancelled');
    expect(byReason.error.userMessage).toBe('Cancelled by <@U1>.');
    expect(classify({ err: cancelled(), attemptsMade: 0, attempts: 3 }).kind).toBe('cancelled');
    // A retryable error thrown while being cancelled is still a cancel.
    const sshWhileCancelling = new AppError(ErrorCode.sshTimeout, 'timeout');
    expect(
      classify({ err: sshWhileCancelling, abortReason: cancelled(), attemptsMade: 0, attempts: 3 }).kind,
    ).toBe('cancelled');
  });

  it('a retryable code retries while attempts are left, and fails on the last attempt', () => {
    for (const code of [
      ErrorCode.sshTimeout,
      ErrorCode.sshConnect,
      ErrorCode.lockBusy,
      ErrorCode.managerUnreachable,
    ]) {
      const err = new AppError(code, 'flaky');
      expect(classify({ err, attemptsMade: 0, attempts: 3 }), code).toMatchObject({
        kind: 'retry',
        error: { code },
      });
      expect(classify({ err, attemptsMade: 1, attempts: 3 }).kind, code).toBe('retry');
      expect(classify({ err, attemptsMade: 2, attempts: 3 }), code).toMatchObject({
        kind: 'fail',
        error: { code },
      });
      expect(classify({ err, attemptsMade: 0, attempts: 1 }).kind, code).toBe('fail');
    }
  });

  it('a non-retryable code fails at once, whatever the attempts left', () => {
    for (const code of [ErrorCode.sshHostkeyMismatch, ErrorCode.jobInvalidData, ErrorCode.sshCommandFailed]) {
      expect(classify({ err: new AppError(code, 'no'), attemptsMade: 0, attempts: 5 })).toMatchObject({
        kind: 'fail',
        error: { code },
      });
    }
  });

  it('an unknown error fails with the internal code', () => {
    for (const err of [new Error('boom'), new TypeError('x is undefined'), 'a string', undefined, 42]) {
      const v = classify({ err, attemptsMade: 0, attempts: 3 });
      expect(v.kind).toBe('fail');
      expect(v.error).toBeInstanceOf(AppError);
      expect(v.error.code).toBe(ErrorCode.internal);
    }
    // A Node system error's code is not ours: internal, not retried.
    const sys = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classify({ err: sys, attemptsMade: 0, attempts: 3 })).toMatchObject({
      kind: 'fail',
      error: { code: ErrorCode.internal },
    });
  });

  it('an abort reason with the internal code does not hide the step’s own error', () => {
    const reason = new AppError(ErrorCode.internal, 'shutdown');
    const own = new AppError(ErrorCode.sshTimeout, 'timeout');
    expect(classify({ err: own, abortReason: reason, attemptsMade: 0, attempts: 3 })).toMatchObject({
      kind: 'retry',
      error: { code: 'ssh.timeout' },
    });
    // A bare reason (no code) neither.
    expect(classify({ err: own, abortReason: abortError(), attemptsMade: 0, attempts: 3 }).kind).toBe(
      'retry',
    );
  });

  it('classifies an AppError read back as a plain object (no class) by its code', () => {
    const plain = {
      name: 'AppError',
      code: 'ssh.timeout',
      message: 'timeout',
      userMessage: 'SSH timed out.',
    };
    expect(classify({ err: plain, attemptsMade: 0, attempts: 3 })).toMatchObject({
      kind: 'retry',
      error: { code: 'ssh.timeout', userMessage: 'SSH timed out.' },
    });
    const plainCancel = { name: 'AppError', code: 'job.cancelled', message: 'c' };
    expect(classify({ err: abortError(), abortReason: plainCancel, attemptsMade: 0, attempts: 3 }).kind).toBe(
      'cancelled',
    );
  });

  it('a step that finished some Hosts: retried while every failure is transient and attempts are left, else partly done', () => {
    const failed = (code: string) =>
      new Map([['h2', new AppError(code, 'down', { userMessage: 'h2 is down' })]]);
    const transient = incomplete({
      what: 'Joining',
      jobId: 'j-x',
      done: ['h1'],
      failed: failed('ssh.connect_failed'),
    });
    expect(classify({ err: transient, attemptsMade: 0, attempts: 3 }).kind).toBe('retry');
    const last = classify({ err: transient, attemptsMade: 2, attempts: 3 });
    expect(last.kind).toBe('partial');
    expect(last.kind === 'partial' && last.details).toEqual({
      done: ['h1'],
      failed: { h2: { code: 'ssh.connect_failed', message: 'h2 is down' } },
      retryable: true,
    });
    const broken = incomplete({
      what: 'Joining',
      jobId: 'j-x',
      done: ['h1'],
      failed: failed('ocfs2.not_listed'),
    });
    expect(classify({ err: broken, attemptsMade: 0, attempts: 3 }).kind).toBe('partial');
    // the same, read back from Redis as a plain object
    const plain = JSON.parse(JSON.stringify({ ...broken, name: 'AppError', message: broken.message }));
    expect(classify({ err: plain, attemptsMade: 0, attempts: 3 }).kind).toBe('partial');
  });
});
