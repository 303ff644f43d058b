/**
 * One error type for the whole program. Every error that crosses a boundary (a queue, a process, Slack)
 * carries a namespaced `code`; callers classify by code, never by `instanceof` (an error read back from
 * Redis is a plain object).
 */
export const ErrorCode = {
  configInvalid: 'config.invalid',
  configMissing: 'config.missing',
  configSecretMissing: 'config.secret_missing',
  registryDuplicate: 'registry.duplicate_command',
  registryInvalid: 'registry.invalid_command',
  argsInvalid: 'args.invalid',
  argsUnknownCommand: 'args.unknown_command',
  argsTooLong: 'args.too_long',
  authNotAdmin: 'auth.not_admin',
  authWrongChannel: 'auth.wrong_channel',
  confirmExpired: 'confirm.expired',
  confirmUsed: 'confirm.already_used',
  confirmNotRequester: 'confirm.not_requester',
  jobInvalidData: 'job.invalid_data',
  jobCancelled: 'job.cancelled',
  /** A step finished some Hosts and not others (see core/partial.ts). */
  jobIncomplete: 'job.incomplete',
  jobNotFound: 'job.not_found',
  jobUnknownCommand: 'job.unknown_command',
  lockBusy: 'lock.busy',
  lockLost: 'lock.lost',
  redisUnavailable: 'redis.unavailable',
  sshConnect: 'ssh.connect_failed',
  sshTimeout: 'ssh.timeout',
  sshHostkeyMismatch: 'ssh.hostkey_mismatch',
  sshHostkeyUnknown: 'ssh.hostkey_unknown',
  sshAuth: 'ssh.auth_failed',
  sshCommandFailed: 'ssh.command_failed',
  managerUnreachable: 'manager.unreachable',
  managerAuth: 'manager.auth_failed',
  managerHttp: 'manager.http_error',
  managerBadResponse: 'manager.bad_response',
  inventoryUnknownHost: 'inventory.unknown_host',
  slackApi: 'slack.api_error',
  slackCannotPost: 'slack.cannot_post',
  internal: 'internal.error',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes whose failure may go away by itself: the engine retries these with backoff, nothing else. */
const RETRYABLE = new Set<string>([
  ErrorCode.lockBusy,
  // Another job took the Host over while this one could not renew (e.g. Redis was away): the next attempt
  // waits for the Host's lock again and resumes from the checkpoints.
  ErrorCode.lockLost,
  ErrorCode.redisUnavailable,
  ErrorCode.sshConnect,
  ErrorCode.sshTimeout,
  ErrorCode.managerUnreachable,
  ErrorCode.managerHttp,
  ErrorCode.slackApi,
]);

export interface AppErrorOptions {
  cause?: unknown;
  /** A sentence for the operator in Slack: what went wrong and how to fix it. Never holds a secret. */
  userMessage?: string;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: string;
  readonly userMessage: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.userMessage = options.userMessage ?? message;
    this.details = options.details;
  }
}

export function isRetryableCode(code: string): boolean {
  return RETRYABLE.has(code);
}

/** Reads a code from anything thrown: AppError, a Node system error, or a plain object from Redis. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code.includes('.') ? err.code : ErrorCode.internal;
  }
  return ErrorCode.internal;
}

export function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // An AppError read back from Redis or another process is a plain object; so is a coded error from a
  // library: classified by its namespaced code, whatever its class.
  const code = errorCode(err);
  if (
    err &&
    typeof err === 'object' &&
    (code !== ErrorCode.internal || (err as { name?: unknown }).name === 'AppError')
  ) {
    const e = err as { message?: unknown; userMessage?: unknown; details?: unknown };
    const message = typeof e.message === 'string' ? e.message : 'error';
    const details = e.details && typeof e.details === 'object' ? { ...e.details } : undefined;
    return new AppError(code, message, {
      cause: err,
      userMessage: typeof e.userMessage === 'string' ? e.userMessage : message,
      ...(details ? { details } : {}),
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AppError(ErrorCode.internal, message, { cause: err, userMessage: `Internal error: ${message}` });
}

export type Result<T, E = AppError> = { ok: true; value: T } | { ok: false; error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** What a read gave, or the user message of why it failed: how a plan's gathered facts hold a failed read. */
export type Read<T> = Result<T, string>;
export const readOf = <T>(p: Promise<T>): Promise<Read<T>> =>
  p.then(
    (value): Read<T> => ({ ok: true, value }),
    (err: unknown): Read<T> => ({ ok: false, error: asAppError(err).userMessage }),
  );
/** A result that already happened (e.g. one Host's answer in a fan-out) as a read. */
export const readOfResult = <T>(r: Result<T, Pick<AppError, 'userMessage'>>): Read<T> =>
  r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error.userMessage };
