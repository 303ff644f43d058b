/**
 * The monitor's thresholds (inventory `monitor:`). Defaults: a heartbeat line every 500 ms over one SSH
 * connection per Host; suspect after 1.5 s of silence (shown, never alerted), lost after 2.5 s (the alert
 * thread opens: well inside the Manager's 60 s and o2cb's 60 s fence, looser than Corosync's old 1 s token that
 * flapped); resolved after 5 s of continuous health; a loss within 5 min of a resolve reopens the same thread.
 */
import { z } from 'zod';

const ms = (min: number, max: number, dflt: number) => z.number().int().min(min).max(max).default(dflt);

export const monitorSettingsSchema = z
  .object({
    heartbeatMs: ms(100, 10_000, 500),
    suspectAfterMs: ms(200, 120_000, 1500),
    lostAfterMs: ms(300, 300_000, 2500),
    recoverAfterMs: ms(0, 600_000, 5000),
    flapWindowMs: ms(0, 86_400_000, 300_000),
    /** TCP connect + SSH handshake of the heartbeat connection (a Host that cannot be reached is retried). */
    connectTimeoutMs: ms(200, 60_000, 5000),
    /** How often the Manager's view of the Hosts is read (shown in alerts). */
    managerPollMs: ms(1000, 600_000, 5000),
    /** The leader lease: one monitor replica at a time decides and posts; another takes over after it. */
    leaseMs: ms(1000, 120_000, 5000),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.suspectAfterMs >= m.lostAfterMs)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['suspectAfterMs'],
        message: `must be less than lostAfterMs (${m.lostAfterMs})`,
      });
    if (m.heartbeatMs * 2 > m.suspectAfterMs)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['heartbeatMs'],
        message: `must be at most half of suspectAfterMs (${m.suspectAfterMs}): one late line must not make a Host suspect`,
      });
  });

export type MonitorSettings = z.output<typeof monitorSettingsSchema>;
