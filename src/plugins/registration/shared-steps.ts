/**
 * Step helpers register-host and replace-host share: the subject Host from the job's args, the key the plan
 * pinned (re-validated: it comes back from Redis), and the registration with the Manager.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import type { StepContext } from '../../core/plugin.js';
import { AppError, ErrorCode } from '../../errors.js';
import { servicesOf, targetOf } from '../../services.js';
import type { HostKeyProbe } from '../../ssh/index.js';
import { hostIdOf, resolveHost } from './args.js';
import { RegistrationErrorCode } from './errors.js';
import { inspectHost, requireFlexvdiKey } from './host-state.js';
import { fingerprintOf, keyId, type PublicKey, sameKey } from './key-files.js';

export function subjectOf(ctx: StepContext<{ host: string; ip?: string | undefined }>): InventoryHost {
  const r = resolveHost(ctx.services.config, ctx.args.host, ctx.args.ip);
  if (!r.ok) throw new AppError(ErrorCode.inventoryUnknownHost, r.reason, { userMessage: r.reason });
  return r.host;
}

const pinnedKeySchema = z.object({
  keyType: z.string().regex(/^[a-z0-9@.-]+$/),
  keyBase64: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});

export function pinnedKey(ctx: StepContext<unknown>): PublicKey {
  const parsed = pinnedKeySchema.safeParse(ctx.pinned['hostKey']);
  if (!parsed.success)
    throw new AppError(ErrorCode.jobInvalidData, 'the plan did not pin a host key', {
      userMessage: 'This job has no host key from its plan; run the command again for a fresh plan.',
    });
  return parsed.data;
}

/** The key the Host presents now must be the one the operator confirmed. */
export function checkUnchanged(h: InventoryHost, probe: HostKeyProbe, key: PublicKey): void {
  const now = { keyType: probe.keyType, keyBase64: probe.keyBase64 };
  if (sameKey(now, key)) return;
  throw new AppError(
    RegistrationErrorCode.hostkeyChanged,
    `host key of ${h.name} changed since the plan: ${probe.fingerprint}, confirmed ${fingerprintOf(key)}`,
    {
      userMessage:
        `The SSH host key of ${h.name} (${h.ip}) changed between the plan and now: it presents ${probe.fingerprint}, ` +
        `the plan showed ${fingerprintOf(key)}. Nothing was pinned. Find out why, then run the command again.`,
    },
  );
}

/** The names a Host's key is pinned under in the product's known_hosts. */
export const pinNamesOf = (h: InventoryHost): string[] => [h.ip, h.fqdn.toLowerCase(), h.name.toLowerCase()];

export interface Registration {
  hostId: string;
  flexvdiKey: string;
  hostKey: string;
}

/**
 * `POST /authenticate` (the password comes from the inventory's secret reference, inside the client) then
 * `POST /host/register`. The Manager's answer holds a secret for the Host's agent: it is neither stored nor
 * logged here (the step result is saved in Redis).
 */
export async function registerWithManager(
  ctx: StepContext<unknown>,
  h: InventoryHost,
): Promise<Registration> {
  const { ssh, manager } = servicesOf(ctx.services.extra);
  const key = pinnedKey(ctx);
  const state = await inspectHost(ssh, targetOf(h), ctx.signal);
  const pub = requireFlexvdiKey(h.name, state);
  await manager.registerHost({ hostId: hostIdOf(h), sshPubkey: pub.line, sshServerKey: keyId(key) });
  return { hostId: hostIdOf(h), flexvdiKey: fingerprintOf(pub.key), hostKey: fingerprintOf(key) };
}

export function ago(iso: string | null): string {
  if (!iso) return 'no heartbeat yet';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90
    ? `last heartbeat ${s} s ago`
    : s < 5400
      ? `last heartbeat ${Math.round(s / 60)} min ago`
      : `last heartbeat ${Math.round(s / 3600)} h ago`;
}
