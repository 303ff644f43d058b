/**
 * Arguments shared by the OCFS2 commands. Names follow the inventory's RFC 1123 rule (which also keeps shell
 * metacharacters out); addresses are IPv4 only (OCFS2's o2net is IPv4-only). Reserved nodes are typed as
 * `name=ip[,name=ip…]` (commas, spaces or new lines between them: the Edit modal takes one per line).
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { hostnameRe } from '../../config.js';
import { clusterNameRe, MAX_NODES } from './cluster-conf.js';

const IPV4_ONLY = 'must be an IPv4 address (OCFS2 needs IPv4)';

/** An inventory name, an FQDN, or a Host's IPv4 address. */
export const hostArg = z
  .string()
  .max(253)
  .refine((v) => isIPv4(v) || hostnameRe.test(v), {
    message: 'must be a Host name or FQDN (letters, digits, "-" and ".") or an IPv4 address',
  });

export const ipArg = z
  .string()
  .max(64)
  .refine((v) => isIPv4(v), { message: IPV4_ONLY });

export const clusterNameArg = z
  .string()
  .regex(clusterNameRe, 'must be 1–16 letters or digits (OCFS2 cluster names allow nothing else)');

export const maxNodesArg = z
  .number({ invalid_type_error: 'must be a whole number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(MAX_NODES, `must be at most ${MAX_NODES} (OCFS2 node numbers are 0–254)`);

export interface Reservation {
  name: string;
  ip: string;
}

/** `name=ip` entries, or the first problem found. */
export function parseReserve(
  text: string,
): { ok: true; value: Reservation[] } | { ok: false; error: string } {
  const value: Reservation[] = [];
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([^=]+)=(.+)$/.exec(item);
    if (!m) return { ok: false, error: `\`${item.slice(0, 60)}\` is not name=ip` };
    const [, name = '', ip = ''] = m;
    if (!hostnameRe.test(name) || name.length > 64)
      return { ok: false, error: `\`${name.slice(0, 60)}\` is not a host name (letters, digits, "-", ".")` };
    if (!isIPv4(ip)) return { ok: false, error: `\`${ip.slice(0, 60)}\` (for ${name}) ${IPV4_ONLY}` };
    value.push({ name, ip });
  }
  return { ok: true, value };
}

export const reserveArg = z
  .string()
  .max(8000)
  .superRefine((v, ctx) => {
    const r = parseReserve(v);
    if (!r.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.error });
  });

/** The reservations of an already validated `--reserve` value (none when absent). */
export function reservationsOf(text: string | undefined): Reservation[] {
  const r = text === undefined ? undefined : parseReserve(text);
  return r?.ok ? r.value : [];
}
