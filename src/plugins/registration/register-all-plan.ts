/**
 * The plan of `register-host --all` (commands/register-all.ts): gather (I/O) → `decideRegisterAll`
 * (decide-all.ts, pure) → render. Gathering reads each Host the Manager does not list the way
 * `register-host <host>` reads its one Host (and no further than its decision needs), and the registered
 * Hosts once for all of them.
 */
import type { Plan, Section } from '../../core/plugin.js';
import { joinMd, type Md, md, plural } from '../../core/text.js';
import { readOf } from '../../errors.js';
import { targetOf } from '../../services.js';
import { fanout } from '../../ssh/index.js';
import { hostIdOf } from './args.js';
import { registerSoFar } from './decide.js';
import {
  type Candidate,
  candidateFacts,
  decideRegisterAll,
  type LeftOut,
  type RegisterAllDecision,
  type RegisterAllFacts,
} from './decide-all.js';
import { RegistrationErrorCode } from './errors.js';
import { describeHostname } from './host-state.js';
import { fingerprintOf, type PublicKey } from './key-files.js';
import { gatherCluster, inspectSubject, type PlanIo } from './preflight.js';
import { registerRefusal } from './register-refusal.js';
import { registeredHosts } from './registry-api.js';
import { ago } from './shared-steps.js';

/** What the plan pins: the Hosts to register with their keys, and the Hosts left out with why (for the result). */
export interface RegisterAllPinned {
  hosts: { name: string; hostKey: PublicKey }[];
  leftOut: { name: string; reason: Md }[];
}

export async function planRegisterAll(io: PlanIo): Promise<Plan<RegisterAllPinned>> {
  const facts = await gather(io);
  return render(decideRegisterAll(facts), facts);
}

async function gather(io: PlanIo): Promise<RegisterAllFacts> {
  const { config, ssh } = io.services;
  const reg = await registeredHosts(io.services, { signal: io.signal });
  const listed = new Set(reg.hosts.map((h) => h.name));
  const todo = config.inventory.hosts.filter((h) => !listed.has(h.name));
  const f: RegisterAllFacts = {
    registered: reg.hosts,
    manager: reg.manager,
    outsideInventory: reg.outsideInventory,
    candidates: [],
  };
  if (todo.length === 0) return f;
  const [read, cluster] = await Promise.all([
    fanout(
      todo.map(targetOf),
      async (t, signal): Promise<Candidate> => {
        const h = todo.find((x) => x.name === t.name)!;
        const c: Candidate = {
          host: h,
          id: hostIdOf(h),
          probe: await readOf(ssh.probeHostKey(t, signal ? { signal } : {})),
        };
        // As register-host <host>: a Host that does not answer, or presents another key, is read no further.
        if (!c.probe.ok || registerSoFar(candidateFacts(c, f))) return c;
        c.subject = await readOf(inspectSubject(io, h, c.probe.value));
        return c;
      },
      { concurrency: config.inventory.ssh.concurrency, signal: io.signal },
    ),
    gatherCluster(io, '', reg.hosts), // no subject among them: every registered Host is read
  ]);
  for (const r of read) {
    if (!r.ok) throw r.error; // readOf keeps each read's failure: only an abort ends up here
    f.candidates.push(r.value);
  }
  f.cluster = cluster;
  return f;
}

const WHAT = md`Register every inventory Host not registered with the Manager yet`;

function render(d: RegisterAllDecision, f: RegisterAllFacts): Plan<RegisterAllPinned> {
  const skipped: Section[] = f.registered.length
    ? [
        {
          title: md`Already registered — skipped (${f.registered.length})`,
          lines: f.registered.map((h) => {
            const s = f.manager.get(hostIdOf(h));
            return md`• *${h.name}* (\`${h.fqdn}\`): already registered${s ? md` (${s.status}, ${ago(s.lastHeartbeat)})` : ''}`;
          }),
        },
      ]
    : [];
  const outside = f.outsideInventory.map(
    (x) => md`The Manager also lists ${x}, which is not in the inventory: left alone.`,
  );
  if (d.kind === 'noop') {
    return {
      summary: md`Every Host in the inventory is already registered with the Manager (${f.registered.length} of ${f.registered.length}): nothing to register. \`/flexvdi hosts\` shows whether their SSH keys are in sync.`,
      sections: skipped,
      warnings: outside,
      noop: true,
    };
  }
  const leftOut = leftOutSection(d.leftOut);
  if (d.kind === 'refuse' && d.code === RegistrationErrorCode.noneRegistrable) {
    return {
      summary: WHAT,
      sections: [leftOut, ...skipped],
      warnings: outside,
      refused: md`None of the ${plural(d.leftOut.length, 'Host')} not registered yet can be registered now: each one says why below. Fix them, then run \`/flexvdi register-host --all\` again.`,
    };
  }
  if (d.kind === 'refuse') {
    return {
      summary: WHAT,
      sections: [
        {
          title: md`Bridge differences (compared with ${d.reference})`,
          lines: d.differences.flatMap((x) => x.lines.map((l) => md`• ${l}`)),
        },
        ...(d.leftOut.length ? [leftOut] : []),
        ...skipped,
      ],
      warnings: outside,
      refused: md`The virtual bridges of the Hosts to register differ from each other, and no registered Host answered to tell which are right; guests could not move between them. Make the bridges the same on every Host (or register the right Host first with \`/flexvdi register-host <host>\`), then run \`/flexvdi register-host --all\` again.`,
    };
  }
  const names = joinMd(d.accepted.map((a) => md`${a.host.name}`));
  const members = f.registered.length + d.accepted.length;
  const firstContact = d.accepted.filter((a) => a.probe.pinned === 'unknown');
  return {
    summary: md`Register ${plural(d.accepted.length, 'Host')} with the Manager (${names}) and exchange SSH keys among all ${plural(members, 'Host')}${
      d.leftOut.length
        ? md`; *${plural(d.leftOut.length, 'Host')} left out* (${joinMd(d.leftOut.map((l) => md`${l.host.name}`))}): not registered by this plan`
        : ''
    }`,
    sections: [
      {
        title: md`To register (${d.accepted.length})`,
        lines: d.accepted.map(
          (a) =>
            md`• *${a.host.name}* (\`${a.host.fqdn}\`, ${a.host.ip}): host key ${a.probe.fingerprint} (${a.probe.keyType}) ${
              a.probe.pinned === 'match' ? md`matches the pinned one` : md`— *first contact*`
            }; answers as ${describeHostname(a.state)} ✓; bridges ${a.bridges}; flexvdi user key ${fingerprintOf(a.flexvdiKey)}`,
        ),
      },
      ...(d.leftOut.length ? [leftOut] : []),
      ...skipped,
      { title: md`SSH keys (${members} Hosts)`, lines: d.keys.lines },
    ],
    warnings: [
      ...(firstContact.length
        ? [
            md`First contact with ${joinMd(firstContact.map((a) => md`${a.host.name}`))}: check that each fingerprint above is that Host's host key (\`ssh-keygen -lf /etc/ssh/ssh_host_<type>_key.pub\` on its console). Confirming pins ${firstContact.length === 1 ? 'it' : 'them'}.`,
          ]
        : []),
      ...(d.leftOut.length
        ? [
            md`Left out, NOT registered by this plan: ${joinMd(d.leftOut.map((l) => md`${l.host.name}`))}. Fix what is said for each, then run \`/flexvdi register-host --all\` again: it registers what is left.`,
          ]
        : []),
      ...d.unreachable,
      ...outside,
    ],
    pinned: {
      hosts: d.pinned.hosts,
      leftOut: d.leftOut.map((l) => ({ name: l.host.name, reason: reasonOf(l) })),
    },
  };
}

function leftOutSection(leftOut: readonly LeftOut[]): Section {
  return {
    title: md`Left out — cannot be registered now (${leftOut.length})`,
    lines: leftOut.map((l) => md`• *${l.host.name}* (\`${l.host.fqdn}\`, ${l.host.ip}): ${reasonOf(l)}`),
  };
}

/** Why a Host is left out: register-host <host>'s refusal, in one line. */
function reasonOf({ host, id, refusal: r }: LeftOut): Md {
  if (r.code === RegistrationErrorCode.bridgesDiffer)
    return md`its virtual bridges differ from ${r.reference}'s (${joinMd(r.differences, '; ')}); guests could not move between them. Make them the same.`;
  return registerRefusal(r, { host, id });
}
