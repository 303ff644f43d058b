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

/** The folder /dev/disk/by-id, where udev's stable names of block devices live. */
export const BY_ID = '/dev/disk/by-id';

/**
 * A device's stable id as `storage devices` shows it (`scsi-3600…`, `wwn-0x…`), with or without the
 * /dev/disk/by-id/ folder in front (which is dropped). udev's names are made of these characters (it writes
 * anything else as `\xNN`); a `/`, a space or a quote would be another path or another word.
 */
export const deviceIdArg = z
  .string()
  .max(300)
  .transform((v) => (v.startsWith(`${BY_ID}/`) ? v.slice(BY_ID.length + 1) : v))
  .pipe(
    z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9:._@+#=\\-]{0,254}$/,
        'is not a stable device id: use one `/flexvdi storage devices` lists (e.g. `scsi-36001405…` or `wwn-0x6001405…`)',
      ),
  );

/**
 * The Image Storage's name: what the Manager records and the folder it is mounted on under
 * /var/lib/flexvdi/image-storages/ — a short name (letters, digits, inner "-"), as the Manager's records take.
 */
export const imageStorageArg = z
  .string()
  .regex(
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/,
    'must be a short name: letters, digits and inner "-", at most 32 characters (it is a folder and a Manager record)',
  );

/**
 * The Volume's name, which is also the OCFS2 label (mkfs.ocfs2: "under 64 bytes"): letters, digits, ".", "_"
 * and "-", starting with a letter or digit — nothing that breaks a label, a path or a shell word.
 */
export const volumeArg = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    'must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit (it becomes the OCFS2 label)',
  );

/** OCFS2 node slots: mkfs.ocfs2 takes 1–255; each is one journal, and each Host that mounts takes one. */
export const slotsArg = z
  .number({ invalid_type_error: 'must be a whole number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(255, 'must be at most 255 (mkfs.ocfs2 -N takes 1–255)');
