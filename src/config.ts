/**
 * The only module that reads the environment. `loadConfig()` validates the inventory file (YAML) and the
 * environment with zod and returns one frozen, typed object, or throws an AppError whose message names the
 * field and the reason.
 *
 * Secrets never live in the inventory text: the Manager password is referenced by env var name or file path
 * and resolved on use through a `Secret`, which prints as "[redacted]" everywhere (logs, JSON, Slack).
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError, ErrorCode } from './errors.js';
import { monitorSettingsSchema } from './monitor/settings.js';

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

/** RFC 1123 host label rules; also what keeps shell metacharacters out of every name we pass to a Host. */
export const hostnameRe =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const shortNameRe = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** A command id: lower-case words (`ocfs2 first-node`); the registry holds commands to the same rule. */
export const commandIdRe = /^[a-z0-9][a-z0-9-]*( [a-z0-9][a-z0-9-]*)*$/;
/** Slack user / channel ids. */
const slackIdRe = /^[UWCGD][A-Z0-9]{2,30}$/;

export const ipv4 = z
  .string()
  .refine((v) => isIPv4(v), { message: 'must be an IPv4 address (flexVDI needs IPv4)' });

const secretRef = z
  .object({
    env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    file: z.string().min(1).optional(),
  })
  .strict()
  .refine((v) => (v.env === undefined) !== (v.file === undefined), {
    message: 'give exactly one of `env` (variable name) or `file` (path); never the secret itself',
  });

export const hostSchema = z
  .object({
    name: z.string().regex(shortNameRe, 'must be a short host name: letters, digits and "-"'),
    fqdn: z.string().regex(hostnameRe, 'must be a fully qualified domain name (letters, digits, "-", ".")'),
    ip: ipv4,
    port: z.number().int().min(1).max(65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name')
      .optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    cluster: z
      .object({ name: z.string().min(1).max(64).default('flexvdi') })
      .strict()
      .default({}),
    manager: z
      .object({
        url: z
          .string()
          .url('must be a URL such as https://10.0.0.2')
          .refine(
            (u) => /^https?:\/\//.test(u),
            'must start with https:// (or http:// for a local stand-in)',
          ),
        username: z.string().min(1),
        password: secretRef,
        tls: z
          .object({
            caFile: z.string().optional(),
            /** SHA-256 fingerprint of the Manager's certificate, as `openssl x509 -fingerprint -sha256` prints. */
            fingerprint256: z
              .string()
              .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be 32 hex pairs separated by ":"')
              .optional(),
            insecure: z.boolean().default(false),
          })
          .strict()
          .default({}),
        /**
         * Automatic failover (off by default): when the Host that runs the Manager is lost, the Manager does not
         * answer and its lease has run out, the monitor starts it on another Host itself (`manager start-on`,
         * confirmed by the monitor) and tells it in the incident's thread.
         */
        autoFailover: z.boolean().default(false),
      })
      .strict(),
    ssh: z
      .object({
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
          .default('root'),
        privateKeyPath: z.string().min(1),
        knownHostsPath: z.string().min(1),
        connectTimeoutMs: z.number().int().min(100).max(120_000).default(8000),
        commandTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
        concurrency: z.number().int().min(1).max(256).default(16),
      })
      .strict(),
    hosts: z.array(hostSchema).default([]),
    slack: z
      .object({
        admins: z.array(z.string().regex(slackIdRe, 'must be a Slack user id like U0123ABCD')).default([]),
        channels: z
          .array(z.string().regex(slackIdRe, 'must be a Slack channel id like C0123ABCD'))
          .default([]),
        alertChannel: z.string().regex(slackIdRe, 'must be a Slack channel id like C0123ABCD').optional(),
        /**
         * Four eyes: a plan of one of these commands runs only once two different admins confirmed it, the
         * requester first. Ids as in each command's spec (`storage create-volume`); that they name mutating
         * commands is checked against the registry at start-up (src/core/registry.ts).
         */
        approvals: z
          .object({
            commands: z
              .array(z.string().regex(commandIdRe, 'must be a command id such as "ocfs2 first-node"'))
              .default([]),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    jobs: z
      .object({
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, "_" and "-" only')
          .default('flexvdi'),
        confirmTtlSeconds: z.number().int().min(10).max(86_400).default(900),
        attempts: z.number().int().min(1).max(20).default(3),
        backoffMs: z.number().int().min(10).max(600_000).default(2000),
        lockTtlMs: z.number().int().min(1000).max(600_000).default(30_000),
        concurrency: z.number().int().min(1).max(64).default(4),
        /**
         * How long a worker's hold on a running job lasts without renewal (BullMQ lockDuration; renewed every
         * half of it). With `stalledIntervalMs`, bounds how soon a killed worker's job resumes elsewhere:
         * at most about lockDurationMs + stalledIntervalMs.
         */
        lockDurationMs: z.number().int().min(2000).max(600_000).default(10_000),
        stalledIntervalMs: z.number().int().min(1000).max(600_000).default(5000),
        /** Times a job may be found stalled (its worker died) and resumed; steps are idempotent. */
        maxStalledCount: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .default({}),
    monitor: monitorSettingsSchema.default({}),
  })
  .strict()
  .superRefine((inv, ctx) => {
    const four = inv.slack.approvals.commands;
    four.forEach((id, i) => {
      if (four.indexOf(id) !== i)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['slack', 'approvals', 'commands', i],
          message: `"${id}" is listed twice`,
        });
    });
    const admins = new Set(inv.slack.admins).size;
    if (four.length && admins < 2)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['slack', 'approvals', 'commands'],
        message: `four eyes needs at least 2 admins in slack.admins (there ${admins === 1 ? 'is 1' : `are ${admins}`}): plans of these commands could never be confirmed`,
      });
    const seen = new Map<string, number>();
    inv.hosts.forEach((h, i) => {
      for (const [kind, key] of [
        ['name', h.name.toLowerCase()],
        ['fqdn', h.fqdn.toLowerCase()],
        ['ip', h.ip],
      ] as const) {
        const k = `${kind}:${key}`;
        const prev = seen.get(k);
        if (prev !== undefined) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['hosts', i, kind],
            message: `duplicate ${kind} "${key}" (also hosts[${prev}])`,
          });
        } else seen.set(k, i);
      }
    });
  });

export type Inventory = z.infer<typeof inventorySchema>;
export type InventoryHost = Inventory['hosts'][number];

export interface Config {
  readonly redisUrl: string | undefined;
  readonly port: number;
  readonly logLevel: string;
  readonly inventoryPath: string;
  readonly inventory: Readonly<Inventory>;
  readonly slack: {
    readonly signingSecret: Secret | undefined;
    readonly botToken: Secret | undefined;
    readonly appToken: Secret | undefined;
    readonly apiUrl: string | undefined;
  };
  /** Resolves the Manager password from its env var or file, at the moment it is needed. */
  readonly managerPassword: () => Secret;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  REDIS_URL: z
    .string()
    .regex(/^(rediss?|redis\+sentinel):\/\//, 'must start with redis://, rediss:// or redis+sentinel://')
    .optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_BOT_TOKEN: z.string().min(1).optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, 'must be an app-level token starting with xapp-')
    .optional(),
  SLACK_API_URL: z.string().url('must be a URL such as http://127.0.0.1:3001/api/').optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  FLEXVDI_CONFIG: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

/**
 * LOG_LEVEL alone, read before the rest of the configuration (the CLI needs a logger to report a bad
 * inventory). An invalid value is a configuration error naming the variable and the valid values.
 */
export function loadLogLevel(env: NodeJS.ProcessEnv = process.env): (typeof LOG_LEVELS)[number] {
  const r = z
    .enum(LOG_LEVELS)
    .default('info')
    .safeParse(env['LOG_LEVEL'] || undefined);
  if (r.success) return r.data;
  throw new AppError(
    ErrorCode.configInvalid,
    `LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')} (got "${String(env['LOG_LEVEL']).slice(0, 40)}")`,
  );
}

export function formatZodIssues(error: z.ZodError, root = ''): string {
  return error.issues
    .map((i) => {
      const where = [root, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : p))]
        .filter(Boolean)
        .join('.')
        .replace(/\.\[/g, '[');
      return `${where || '(top level)'}: ${i.message}`;
    })
    .join('; ');
}

/** The example inventory shipped in the repo, used by `start --local-slack` when FLEXVDI_CONFIG is unset. */
export const exampleInventoryPath = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  ...(import.meta.url.includes('/dist/') ? ['..'] : []),
  'examples',
  'inventory.yaml',
);

function resolveRelative(base: string, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(path.dirname(base), p);
}

export function parseInventory(text: string, source: string): Inventory {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AppError(ErrorCode.configInvalid, `${source}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = inventorySchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new AppError(ErrorCode.configInvalid, `${source}: ${formatZodIssues(parsed.error)}`, {
      details: { issues: parsed.error.issues },
    });
  }
  const inv = parsed.data;
  inv.ssh.privateKeyPath = resolveRelative(source, inv.ssh.privateKeyPath);
  inv.ssh.knownHostsPath = resolveRelative(source, inv.ssh.knownHostsPath);
  if (inv.manager.password.file)
    inv.manager.password.file = resolveRelative(source, inv.manager.password.file);
  if (inv.manager.tls.caFile) inv.manager.tls.caFile = resolveRelative(source, inv.manager.tls.caFile);
  return inv;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export interface LoadOptions {
  /** Path used when FLEXVDI_CONFIG is not set (the CLI passes the example inventory for --local-slack). */
  defaultInventoryPath?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const e = envSchema.safeParse(env);
  if (!e.success) {
    throw new AppError(ErrorCode.configInvalid, `environment: ${formatZodIssues(e.error)}`);
  }
  const inventoryPath = e.data.FLEXVDI_CONFIG ?? options.defaultInventoryPath;
  if (!inventoryPath) {
    throw new AppError(
      ErrorCode.configMissing,
      'FLEXVDI_CONFIG is not set: point it at an inventory file (see examples/inventory.yaml), ' +
        'or run `flexvdi-chatops start --local-slack` for the built-in demo',
    );
  }
  let text: string;
  try {
    text = readFileSync(inventoryPath, 'utf8');
  } catch (err) {
    throw new AppError(
      ErrorCode.configMissing,
      `FLEXVDI_CONFIG: cannot read inventory file ${inventoryPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const inventory = parseInventory(text, inventoryPath);
  const pw = inventory.manager.password;
  const managerPassword = (): Secret => {
    if (pw.env) {
      const v = env[pw.env];
      if (!v) {
        throw new AppError(
          ErrorCode.configSecretMissing,
          `manager.password.env: environment variable ${pw.env} is not set; set it to the Manager password`,
        );
      }
      return new Secret(v);
    }
    try {
      const v = readFileSync(pw.file!, 'utf8').replace(/\r?\n$/, '');
      if (!v) throw new Error('file is empty');
      return new Secret(v);
    } catch (err) {
      throw new AppError(
        ErrorCode.configSecretMissing,
        `manager.password.file: cannot read ${pw.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  const wrap = (v: string | undefined) => (v === undefined ? undefined : new Secret(v));
  return deepFreeze({
    redisUrl: e.data.REDIS_URL,
    port: e.data.PORT,
    logLevel: e.data.LOG_LEVEL,
    inventoryPath: path.resolve(inventoryPath),
    inventory,
    slack: {
      signingSecret: wrap(e.data.SLACK_SIGNING_SECRET),
      botToken: wrap(e.data.SLACK_BOT_TOKEN),
      appToken: wrap(e.data.SLACK_APP_TOKEN),
      apiUrl: e.data.SLACK_API_URL,
    },
    managerPassword,
  });
}

/** Checks that Slack credentials are present for a real workspace: a clear start-up error, never a fallback. */
export function requireSlackCredentials(cfg: Config): void {
  const missing: string[] = [];
  if (!cfg.slack.botToken) missing.push('SLACK_BOT_TOKEN');
  if (!cfg.slack.signingSecret && !cfg.slack.appToken)
    missing.push('SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN)');
  if (missing.length) {
    throw new AppError(
      ErrorCode.configMissing,
      `missing Slack credentials: ${missing.join(', ')}. Set them from your Slack app's settings, ` +
        'or run `flexvdi-chatops start --local-slack` to use the built-in local Slack workspace',
    );
  }
}
