/**
 * `storage devices` as a result: one line per device (by stable id) with its size, what is on it, where it
 * is mounted and on which Hosts, first the devices every Host of the set sees (where a shared volume can be
 * made), then those some Host does not see or that are not proven to be one device (a name shared without a
 * world-unique id and size in common, or two devices of one Host in a group: called out, `storage
 * create-volume` will refuse them), then the Hosts that did not answer. Pure. Everything that came from a Host (ids, paths, labels, mount points,
 * errors) is escaped by `md`; control characters in labels are shown as `\n`, `\x07`….
 */
import type { InventoryHost } from '../../config.js';
import type { CommandResult, Section } from '../../core/plan.js';
import { joinMd, type Md, md, plural, prose } from '../../core/text.js';
import { sizeText } from '../../core/units.js';
import type { RegistrationApi } from '../registration/api.js';
import { resolveHostList } from './args.js';
import { type HostRead, type MergedDevice, visibleEverywhere } from './device-merge.js';
import type { Content } from './devices.js';

/** Control characters made visible (a label may hold a new line), the rest as is. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** What is on a device, in a few words. */
export function contentText(c: Content): Md {
  switch (c.kind) {
    case 'empty':
      return md`empty`;
    case 'ocfs2': {
      const label = c.label === null ? md`no label` : md`label \`${printable(c.label)}\``;
      const cluster =
        c.cluster === null
          ? md`no cluster name`
          : md`cluster \`${printable(c.cluster)}\`${c.stack && c.stack !== 'o2cb' ? md` (${printable(c.stack)})` : md``}`;
      const slots = c.slots === null ? md`slots unknown` : plural(c.slots, 'slot');
      return md`OCFS2, ${label}, ${cluster}, ${slots}`;
    }
    case 'partitioned':
      return md`partition table (${printable(c.table)})`;
    case 'other':
      return c.label ? md`${printable(c.type)}, label \`${printable(c.label)}\`` : md`${printable(c.type)}`;
    case 'unknown':
      return md`content unknown (${printable(c.reason)})`;
  }
}

const list = (hosts: readonly string[]): Md => joinMd(hosts.map((h) => md`${h}`));

/** `mounted at `/mnt/vm` on host1, host2`, `swap on host1`, `not mounted`. */
export function mountsText(d: MergedDevice): Md {
  if (!d.mounts.length) return md`not mounted`;
  // The mount's type is said when it is not what blkid found on the device (e.g. a partition's).
  const onIt = d.content.kind === 'ocfs2' ? 'ocfs2' : d.content.kind === 'other' ? d.content.type : null;
  const byWhere = new Map<string, { what: Md; hosts: string[] }>();
  for (const m of d.mounts) {
    const part = m.partition ? md`\`${m.partition}\` ` : md``;
    const what =
      m.fstype === 'swap' && m.target === '[SWAP]'
        ? md`${part}swap`
        : md`${part}mounted at \`${printable(m.target)}\`${m.fstype === onIt ? md`` : md` (${printable(m.fstype)})`}`;
    const key = what.mrkdwn;
    const e = byWhere.get(key) ?? { what, hosts: [] };
    if (!e.hosts.includes(m.host)) e.hosts.push(m.host);
    byWhere.set(key, e);
  }
  return joinMd(
    [...byWhere.values()].map((e) => md`${e.what} on ${list(e.hosts)}`),
    '; ',
  );
}

/** One device as one line. */
export function deviceLine(d: MergedDevice): Md {
  const sizes = [...new Set(d.sizes.map((s) => s.bytes))];
  const size =
    sizes.length === 1
      ? sizes[0] === null || sizes[0] === undefined
        ? md`size unknown`
        : md`${sizeText(sizes[0])}`
      : md`size differs (${joinMd(d.sizes.map((s) => md`${s.bytes === null ? 'unknown' : sizeText(s.bytes)} on ${s.host}`))})`;
  const paths = [...new Set(d.paths.map((p) => p.path))];
  const where =
    paths.length === 1
      ? md`\`${paths[0] ?? ''}\``
      : joinMd(d.paths.map((p) => md`\`${p.path}\` on ${p.host}`));
  const parts: Md[] = [md`\`${d.id}\``, size, contentText(d.content), mountsText(d)];
  if (d.holders.length)
    parts.push(
      md`in use by ${joinMd(
        d.holders.map((h) => md`${h.holders.join(' ')} on ${h.host}`),
        '; ',
      )}`,
    );
  if (d.missingFrom.length) parts.push(md`seen by ${list(d.seenBy)} only, not by ${list(d.missingFrom)}`);
  if (d.ambiguous)
    parts.push(
      md`:warning: ambiguous: its ids name several devices on ${list(
        d.seenBy.filter((h) => d.paths.filter((p) => p.host === h).length > 1),
      )}, not proven shared`,
    );
  if (d.sameName.length)
    parts.push(
      md`same name as a device on ${joinMd(
        d.sameName.map((x) => md`${list(x.hosts)} (\`${x.id}\`)`),
        '; ',
      )}, not proven shared`,
    );
  const warn = sizes.length > 1 || d.disagree.length > 0;
  const disagree = d.disagree.length
    ? md` — :warning: the Hosts disagree on what is on it: ${joinMd(
        d.disagree.map((x) => md`${x.host} finds ${contentText(x.content)}`),
        '; ',
      )}`
    : md``;
  return md`• ${warn ? md`:warning: ` : md``}${joinMd(parts, ' · ')} (${where})${disagree}`;
}

export interface DevicesFacts {
  /** The Hosts asked, in inventory order. */
  targets: readonly string[];
  /** Where that list came from, one phrase (the registration plugin's note, or the names given). */
  note: Md;
  reads: readonly HostRead[];
  devices: readonly MergedDevice[];
}

/** The command's result: sections as above, and "with findings" when a Host or a fact is missing. */
export function devicesResult(f: DevicesFacts): CommandResult {
  const answered = f.reads.flatMap((r) => (r.ok ? [r.host] : []));
  const failed = f.reads.flatMap((r) => (r.ok ? [] : [r]));
  const shared = f.devices.filter(visibleEverywhere);
  const partial = f.devices.filter((d) => !visibleEverywhere(d));
  const notes = f.reads.flatMap((r) => (r.ok ? r.value.notes.map((n) => ({ host: r.host, n })) : []));
  const odd = f.devices.filter(
    (d) => d.disagree.length || d.ambiguous || new Set(d.sizes.map((s) => s.bytes)).size > 1,
  );
  const everyHost = failed.length
    ? md`every Host that answered (${list(answered)}; not read: ${list(failed.map((r) => r.host))})`
    : md`every Host (${list(answered)})`;
  const sections: Section[] = [];
  if (answered.length) {
    sections.push({
      title: md`Visible from ${everyHost}`,
      lines: shared.length ? shared.map(deviceLine) : [md`none`],
    });
  }
  if (partial.length) {
    sections.push({
      title: md`Not visible from every Host, or not proven to be one device — no shared volume can be made on these for this set of Hosts`,
      lines: partial.map(deviceLine),
    });
  }
  if (failed.length)
    sections.push({
      title: md`Not read`,
      lines: failed.map((r) => md`• :warning: *${r.host}*: ${prose(r.error)}`),
    });
  const unnamed = f.reads.flatMap((r) =>
    r.ok && r.value.unnamed.length
      ? [
          md`• ${r.host}: no stable id (no /dev/disk/by-id link), not listed: ${printable(r.value.unnamed.join(' '))}`,
        ]
      : [],
  );
  if (notes.length || unnamed.length)
    sections.push({
      title: md`Notes`,
      lines: [...notes.map((x) => md`• ${x.host}: ${printable(x.n)}`), ...unnamed],
    });
  sections.push({ lines: [md`Hosts: ${f.note}.`] });

  const down = failed.length ? md` — :warning: not read: ${list(failed.map((r) => r.host))}` : md``;
  const summary = !f.targets.length
    ? md`No Host to read: name the Hosts with \`--hosts\``
    : !answered.length
      ? md`:warning: No Host answered (${plural(f.targets.length, 'Host')} asked)`
      : md`${plural(f.devices.length, 'device')} on ${plural(answered.length, 'Host')}: ${shared.length} visible from ${failed.length ? 'every Host that answered' : 'every Host'}${partial.length ? md`, ${partial.length} not` : md``}${odd.length ? md`, :warning: the Hosts disagree about ${odd.length}` : md``}${down}`;
  return {
    summary,
    sections,
    outcome: failed.length || notes.length || odd.length ? 'findings' : 'completed',
  };
}

/**
 * The plan's one line: the inventory Hosts `--hosts` resolves to (each by its inventory name), or the text as
 * typed when a name is not in the inventory (the step then refuses it with the registration plugin's reason).
 */
export function planSummary(
  registration: Pick<RegistrationApi, 'resolveHost'>,
  inventory: readonly InventoryHost[],
  hosts: string | undefined,
): Md {
  if (hosts === undefined) return md`Read the block devices of the registered Hosts`;
  const r = resolveHostList(registration, inventory, hosts);
  return r.ok
    ? md`Read the block devices of ${joinMd(r.value.map((h) => md`${h.name}`))}`
    : md`Read the block devices of ${hosts}`;
}

/**
 * The Host's own words in a user message: a code span, so nothing in them formats. A user message is prose
 * (`prose`, `escapeEntities` where it is shown: pings and links escaped there, our backticks kept), so the
 * text's own backticks are replaced by a look-alike; `escapeMd` here would escape `&` a second time there.
 */
const inCode = (s: string): string => `\`${s.replace(/`/g, '\u02cb')}\``;

/**
 * Why a Host's scan could not be read, for the user: the parser's reason (which quotes the Host's output) and
 * the last lines of its stderr, each as a code span.
 */
export function unreadableMessage(
  host: string,
  exit: number | string | null,
  error: string,
  stderr: string,
): string {
  const tail = stderr.trim().split('\n').slice(-2).join(' / ').slice(0, 300);
  const why = `${inCode(error)}${tail ? ` (${inCode(tail)})` : ''}`;
  return `${host} did not answer the device scan as expected (exit ${exit ?? '?'}): ${why}`;
}
