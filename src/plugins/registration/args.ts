/**
 * Arguments shared by the registration commands and the inventory look-up. Names are checked with the
 * inventory's own RFC 1123 rule, which also keeps every shell metacharacter out; addresses must be IPv4.
 */
import { isIP, isIPv4 } from 'node:net';
import { z } from 'zod';
import { type Config, hostnameRe, type InventoryHost } from '../../config.js';
import { findHost } from '../../core/plugin.js';
import { closeHostNames } from '../../core/suggest.js';

const IPV4_ONLY = 'must be an IPv4 address (flexVDI needs IPv4; IPv6 is not supported)';

/** An inventory name, an FQDN, or the Host's IPv4 address. */
export const hostArg = z
  .string()
  .max(253)
  .superRefine((v, ctx) => {
    if (isIP(v) === 6 || (/^\d+(\.\d+){3}$/.test(v) && !isIPv4(v)))
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: IPV4_ONLY });
    else if (!isIPv4(v) && !hostnameRe.test(v))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'must be a Host name or FQDN (letters, digits, "-" and ".") or an IPv4 address',
      });
  });

export const ipArg = z
  .string()
  .max(64)
  .refine((v) => isIPv4(v), { message: IPV4_ONLY });

/**
 * `reason` is our prose (mrkdwn) around names the schemas and the inventory validated (RFC 1123 names,
 * IPv4 addresses) and the inventory's path: show it with `prose(reason)`.
 */
export type Resolved = { ok: true; host: InventoryHost } | { ok: false; reason: string };

/**
 * The inventory Host named by `host` (name, FQDN or IP) and, when given, `ip`. The inventory is the
 * operator's source of truth: a Host that is not in it is refused with what to do, never added on the fly.
 */
export function resolveHost(config: Config, host: string, ip?: string): Resolved {
  const inv = config.inventory;
  const byHost = findHost(config, host);
  const where = config.inventoryPath;
  if (!byHost) {
    const byIp = ip ? inv.hosts.find((h) => h.ip === ip) : undefined;
    if (byIp) {
      return {
        ok: false,
        reason: `${ip} belongs to *${byIp.name}* (\`${byIp.fqdn}\`) in the inventory, not to \`${host}\`.`,
      };
    }
    const close = closeHostNames(host, inv.hosts).map((n) => `\`${n}\``);
    return {
      ok: false,
      reason:
        `\`${host}\`${ip ? ` (${ip})` : ''} is not in the inventory.` +
        (close.length ? ` Did you mean ${close.join(' or ')}?` : '') +
        ' The inventory is the list of Hosts this bot manages: add the Host (name, fqdn, ip) to ' +
        `${where}, restart the workers so they read it, then run the command again.`,
    };
  }
  if (ip && byHost.ip !== ip) {
    return {
      ok: false,
      reason: `*${byHost.name}* (\`${byHost.fqdn}\`) has IP ${byHost.ip} in the inventory, not ${ip}. flexVDI identifies a Host by its domain name and IP: fix the Host or the inventory first.`,
    };
  }
  return { ok: true, host: byHost };
}

/** The Manager's id for a Host: its FQDN, lower-case. */
export const hostIdOf = (h: InventoryHost): string => h.fqdn.toLowerCase();
