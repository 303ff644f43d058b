/**
 * `/flexvdi motd show`: the headline of /etc/motd on every registered Host. Read-only, so no plan to confirm:
 * one step reads every Host in parallel with per-Host progress, and the result groups what they show. Hosts
 * that differ, or that do not answer, make the outcome `findings` (⚠️), not `completed`.
 */
import { z } from 'zod';
import { NO_PINS, type StepContext } from '../../../../src/core/plugin.js';
import { type Md, md, mdSchema, prose } from '../../../../src/core/text.js';
import { command, type MotdDeps, step } from '../define.js';
import { type HostMotd, headline, hostMotdSchema, MOTD, readMotds } from '../motd-file.js';

const args = z.object({}).strict();
type Args = z.output<typeof args>;

const read = step({
  id: 'read',
  title: `Read ${MOTD} on every registered Host`,
  output: z.object({
    /** Where the Host list came from (says so when the Manager did not answer). */
    note: mdSchema,
    hosts: z.array(hostMotdSchema),
  }),
  run: async (ctx: StepContext<Args, null, MotdDeps>) => {
    const { config, ssh } = ctx.services;
    const reg = await ctx.deps.registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
    const hosts = await readMotds(
      { ssh, concurrency: config.inventory.ssh.concurrency },
      reg.hosts,
      ctx.signal,
      ctx.progress,
    );
    return { note: reg.note, hosts };
  },
});

/** One line per Host; foreign text (the file, the error) goes through `md`/`prose`, which escape it. */
export function hostLine(s: HostMotd): Md {
  if (!s.reachable) return md`• *${s.host}*: unreachable — ${prose(s.error)}`;
  if (s.content === null) return md`• *${s.host}*: no ${MOTD}`;
  const line = headline(s.content);
  return line ? md`• *${s.host}*: “${line}”` : md`• *${s.host}*: empty`;
}

export const motdShowCommand = command({
  id: 'motd show',
  summary: 'The message of the day (first non-blank line of /etc/motd) on every registered Host',
  examples: ['/flexvdi motd show'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({ summary: md`Read ${MOTD} on every registered Host`, sections: [], warnings: [] }),
  steps: [read],
  result: (ctx) => {
    const { note, hosts } = ctx.result(read);
    const seen = hosts.flatMap((s) => (s.reachable ? [s.content === null ? '' : headline(s.content)] : []));
    const distinct = new Set(seen);
    const down = hosts.filter((s) => !s.reachable).map((s) => s.host);
    const [only] = distinct;
    const summary =
      hosts.length === 0
        ? md`No Host to read: ${note}`
        : distinct.size > 1
          ? md`:warning: The Hosts show ${distinct.size} different messages`
          : down.length === hosts.length
            ? md`:warning: No Host answered`
            : md`${seen.length} Host(s) show ${only ? md`“${only}”` : md`no message`}`;
    return {
      summary: down.length ? md`${summary} (unreachable: ${down.join(', ')})` : summary,
      sections: [{ title: md`From ${note}`, lines: hosts.map(hostLine) }],
      outcome: distinct.size > 1 || down.length > 0 ? 'findings' : 'completed',
    };
  },
});
