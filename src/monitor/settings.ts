/**
 * The monitor's thresholds (inventory `monitor:`). Defaults: a heartbeat line every 500 ms over one SSH
 * connection per Host; suspect after 1.5 s of silence (shown, never alerted), lost after 2.5 s (the alert
 * thread opens: well inside the Manager's 60 s and o2cb's 60 s fence, looser than Corosync's old 1 s token that
 * flapped); resolved after 5 s of continuous health; a loss within 5 min of a resolve reopens the same
 * thread; more than half of the Hosts (at least 3) lost at once is one storm incident (while others are
 * silent too, a new loss waits 1 s for them before it is told); a lost Host nobody acknowledged is recalled
 * in its thread every 30 min; sshd must greet a new connection every 30 s.
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
    /** How often a new TCP connection must get sshd's banner (a hung sshd still listens); 0: never. */
    sshCheckEveryMs: z
      .number()
      .int()
      .refine((v) => v === 0 || (v >= 1000 && v <= 3_600_000), 'must be 0 (never) or 1000–3600000 ms')
      .default(30_000),
    /** How often the Manager's view of the Hosts is read (shown in alerts). */
    managerPollMs: ms(1000, 600_000, 5000),
    /** The leader lease: one monitor replica at a time decides and posts; another takes over after it. */
    leaseMs: ms(1000, 120_000, 5000),
    /**
     * A storm: more than this share of the Hosts (and at least stormMinHosts) lost at once is told as one
     * incident — the monitor's own network or the switch may be at fault — instead of a thread per Host.
     */
    stormShare: z.number().gt(0).max(1).default(0.5),
    stormMinHosts: z.number().int().min(2).max(10_000).default(3),
    /**
     * While other Hosts are silent too, a new loss waits this long for them before its thread opens: Hosts
     * that fail together go silent up to one heartbeat apart, and are then told together (a storm when there
     * are enough of them). A Host lost alone is told at once.
     */
    stormWaitMs: ms(0, 10_000, 1000),
    /** While a Host stays lost and nobody acknowledged it, a reminder in its thread this often (0: never). */
    remindEveryMs: z
      .number()
      .int()
      .refine((v) => v === 0 || (v >= 10_000 && v <= 86_400_000), 'must be 0 (never) or 10000–86400000 ms')
      .default(1_800_000),
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
