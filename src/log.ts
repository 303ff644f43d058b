/**
 * pino, created once per process and injected everywhere (child logger per job). `redact` removes every
 * field that can carry a secret; `Secret` values serialise as "[redacted]" on top of that.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  '*.*.token',
  'botToken',
  '*.botToken',
  'appToken',
  '*.appToken',
  'signingSecret',
  '*.signingSecret',
  'privateKey',
  '*.privateKey',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'message_secret',
  '*.message_secret',
];

export function createLogger(opts: { level?: string; name?: string } = {}, dest?: DestinationStream): Logger {
  return pino(
    {
      name: opts.name ?? 'flexvdi-chatops',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}

export type { Logger };
