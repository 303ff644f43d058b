/**
 * Arguments shared by the storage commands. `--hosts` names inventory Hosts (name, FQDN or IPv4, as the
 * registration plugin's `hostArg` checks them), separated by commas or spaces; which of them are in the
 * inventory is decided in the worker with the registration plugin's `resolveHost` (its unknown-Host message
 * and suggestions), never here.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import { AppError, ErrorCode, type Result } from '../../errors.js';
import type { RegistrationApi } from '../registration/api.js';
import { hostArg } from '../registration/args.js';

/** At most this many names in `--hosts` (the inventory allows no more Hosts than this either). */
export const MAX_HOST_NAMES = 256;

/** The names typed in a `--hosts` value, in order, duplicates dropped (case-insensitively). */
export function hostNamesOf(text: string): string[] {
  const seen = new Set<string>();
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .filter((n) => !seen.has(n.toLowerCase()) && seen.add(n.toLowerCase()));
}

export const hostsArg = z
  .string()
  .max(8000)
  .superRefine((v, ctx) => {
    const names = hostNamesOf(v);
    if (!names.length) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'names no Host' });
    if (names.length > MAX_HOST_NAMES)
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `names more than ${MAX_HOST_NAMES} Hosts` });
    for (const n of names) {
      const r = hostArg.safeParse(n);
      if (!r.success) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `\`${n.slice(0, 60)}\` ${r.error.issues[0]?.message ?? 'is not a Host'}`,
        });
        return;
      }
    }
  });

/**
 * The inventory Hosts `--hosts` names (each once, in inventory order: `host2,host1` and `host1,host2` read
 * the same Hosts), or `inventory.unknown_host` with the registration plugin's reason for the first name that
 * is not in the inventory (its "Did you mean …?") and the other unknown names.
 */
export function resolveHostList(
  registration: Pick<RegistrationApi, 'resolveHost'>,
  inventory: readonly InventoryHost[],
  text: string,
): Result<InventoryHost[]> {
  const found = new Set<string>();
  const unknown: { name: string; reason: string }[] = [];
  for (const n of hostNamesOf(text)) {
    const r = registration.resolveHost(n);
    if (r.ok) found.add(r.host.name);
    else unknown.push({ name: n, reason: r.reason });
  }
  const [first, ...more] = unknown;
  if (first) {
    const also = more.length
      ? ` Not in the inventory either: ${more.map((u) => `\`${u.name}\``).join(', ')}.`
      : '';
    const message = `${first.reason}${also}`;
    return {
      ok: false,
      error: new AppError(
        ErrorCode.inventoryUnknownHost,
        `not in the inventory: ${unknown.map((u) => u.name).join(', ')}`,
        {
          userMessage: message,
        },
      ),
    };
  }
  return { ok: true, value: inventory.filter((h) => found.has(h.name)) };
}
