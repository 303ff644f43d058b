/** What every bot handler gets: injected clients and the stores built on them. */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Registry } from '../core/registry.js';
import type { AuditLog } from '../jobs/audit.js';
import type { Confirmations } from '../jobs/confirmations.js';
import type { JobMessages } from '../jobs/job-messages.js';
import type { Keys } from '../jobs/keys.js';
import type { FlexQueue, QueueSettings } from '../jobs/queue.js';
import type { Metrics } from '../metrics.js';
import type { MonitorBoard } from '../monitor/board.js';
import type { Enqueuer } from './enqueuer.js';

export interface BotContext {
  config: Config;
  redis: Redis;
  queue: FlexQueue;
  log: Logger;
  registry: Registry;
  metrics: Metrics;
  audit: AuditLog;
  confirmations: Confirmations;
  /** The one writer of job messages (shared with the worker role's). */
  messages: JobMessages;
  keys: Keys;
  queueSettings: QueueSettings;
  /** Enqueues after the ack (batched behind the requests still being answered). */
  enqueuer: Enqueuer;
  /** The heartbeat monitor's board: acknowledgements, Home tab users, what the Home tab shows. */
  board: MonitorBoard;
}
