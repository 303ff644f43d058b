/**
 * `/flexvdi diagnose <host>`: one Host, from every side at once — a TCP connect to its SSH port, a few reads
 * over SSH when it answers (uptime and load, memory, root filesystem, sshd, o2cb), the Manager's record of it,
 * the monitor's view (probe state, open incident, maintenance window) and its OCFS2 membership (the OCFS2
 * plugin's API). Meant to be started from the Diagnose button of an alert, whose job posts in the incident's
 * thread; typed, it posts like any command. Read-only, for anyone.
 *
 * The parts run in parallel and each on its own: a part that fails is reported with why, and the others are
 * still shown (the command then ends "with findings", as it does when the Host does not answer or a fact
 * needs attention).
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { NO_PINS, type Section, type StepContext } from '../../../core/plugin.js';
import { type Md, md, mention, prose } from '../../../core/text.js';
import { AppError, ErrorCode, type Read, readOf } from '../../../errors.js';
import { readBoardSnapshot } from '../../../monitor/home.js';
import { clock, duration, managerText } from '../../../monitor/messages.js';
import {
  ackOf,
  boardSnapshotSchema,
  hostBoardParts,
  monitorStatus,
  openIncidentOf,
} from '../../../monitor/overview.js';
import { targetOf } from '../../../services.js';
import { hostArg } from '../../registration/args.js';
import { command, type MonitorDeps, step } from '../define.js';
import {
  DIAGNOSIS_SCRIPT,
  factLines,
  hostFactsSchema,
  parseDiagnosis,
  type TcpProbe,
  tcpProbe,
  tcpProbeSchema,
} from '../diagnose-probes.js';

const args = z.object({ host: hostArg }).strict();
type Args = z.output<typeof args>;
type Ctx = StepContext<Args, null, MonitorDeps>;

/** A part's answer, or why it could not be had (the error's user message). */
const readSchema = <T extends z.ZodTypeAny>(value: T) =>
  z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), value }),
    z.object({ ok: z.literal(false), error: z.string() }),
  ]);

const SSH_TIMEOUT_MS = 20_000;

const output = z.object({
  host: z.object({ name: z.string(), fqdn: z.string(), ip: z.string(), port: z.number() }),
  tcp: tcpProbeSchema,
  /** Null: not tried (the SSH port did not accept a connection). */
  ssh: readSchema(hostFactsSchema).nullable(),
  /** The Manager's record: null value when it does not list the Host. */
  manager: readSchema(z.object({ status: z.string(), lastHeartbeat: z.string().nullable() }).nullable()),
  board: readSchema(boardSnapshotSchema),
  ocfs2: readSchema(
    z
      .object({
        cluster: z.string(),
        node: z.number(),
        nodeName: z.string(),
        source: z.string(),
        rejoin: z.string(),
      })
      .nullable(),
  ),
});
type Diagnosis = z.output<typeof output>;

const diagnose = step({
  id: 'diagnose',
  title: 'Diagnose: TCP, SSH, the Manager, the monitor and OCFS2, in parallel',
  output,
  run: async (ctx: Ctx): Promise<Diagnosis> => {
    const { registration, ocfs2 } = ctx.deps;
    const { services, signal } = ctx;
    const r = registration.resolveHost(ctx.args.host);
    if (!r.ok)
      throw new AppError(ErrorCode.inventoryUnknownHost, `${ctx.args.host} is not in the inventory`, {
        userMessage: r.reason,
      });
    const h = r.host;
    const part = async <T>(what: string, p: Promise<T>): Promise<Read<T>> => {
      const got = await readOf(p);
      if (signal.aborted) throw signal.reason;
      if (!got.ok) ctx.finding(`${what}: ${got.error}`);
      return got;
    };
    const reach = async () => {
      const tcp = await tcpProbe(h.ip, h.port, services.config.inventory.ssh.connectTimeoutMs, signal);
      if (tcp.outcome !== 'open') return { tcp, ssh: null };
      const ssh = await part(
        'SSH',
        services.ssh
          .exec(targetOf(h), ['sh', '-c', DIAGNOSIS_SCRIPT], {
            signal,
            timeoutMs: SSH_TIMEOUT_MS,
            allowNonZero: true,
          })
          .then((x) => parseDiagnosis(x.stdout)),
      );
      return { tcp, ssh };
    };
    const [{ tcp, ssh }, manager, board, membership] = await Promise.all([
      reach(),
      part(
        'the Manager',
        services.manager
          .getHost(registration.hostIdOf(h))
          .then((m) => (m ? { status: m.status, lastHeartbeat: m.lastHeartbeat } : null)),
      ),
      part('the monitor', readBoardSnapshot(services.board, [h.name])),
      part(
        'OCFS2',
        ocfs2.membership(h, signal).then((m) =>
          m
            ? {
                cluster: m.cluster,
                node: m.node.number,
                nodeName: m.node.name,
                source: m.source,
                rejoin: m.rejoin,
              }
            : null,
        ),
      ),
    ]);
    return {
      host: { name: h.name, fqdn: h.fqdn, ip: h.ip, port: h.port },
      tcp,
      ssh,
      manager,
      board,
      ocfs2: membership,
    };
  },
});

/** What the TCP connect found, in words. */
function tcpLine(t: TcpProbe, h: Pick<InventoryHost, 'ip' | 'port'>, timeoutMs: number): Md {
  const at = md`${h.ip}:${h.port}`;
  switch (t.outcome) {
    case 'open':
      return md`🟢 SSH port ${at} accepts connections (${t.ms} ms)`;
    case 'refused':
      return md`🔴 ${at} refused the connection (${t.ms} ms): nothing listens there — sshd is down, or the machine answering is not set up`;
    case 'timeout':
      return md`🔴 no answer from ${at} within ${duration(timeoutMs)}: the Host is down, frozen, or cut off from this worker`;
    case 'unreachable':
      return md`🔴 no route to ${h.ip} (${t.detail ?? 'unreachable'}, ${t.ms} ms): the network says the Host is not there`;
    case 'error':
      return md`🔴 connecting to ${at} failed (${t.detail ?? 'error'}, ${t.ms} ms)`;
  }
}

export const diagnoseCommand = command({
  id: 'diagnose',
  summary:
    'One Host from every side: TCP and SSH, load, memory, disk, sshd, o2cb, the Manager, the monitor, OCFS2',
  examples: ['/flexvdi diagnose host2'],
  args,
  positionals: ['host'],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: (ctx) => ({ summary: md`Diagnose ${ctx.args.host}`, sections: [], warnings: [] }),
  steps: [diagnose],
  result: (ctx) => {
    const d = ctx.result(diagnose);
    const inv = ctx.services.config.inventory;
    const h = d.host;
    /** What needs a look, in a word or two each (the summary names them). */
    const look: string[] = [];
    // Reachability and the Host's own answers
    const tcp = tcpLine(d.tcp, h, inv.ssh.connectTimeoutMs);
    if (d.tcp.outcome !== 'open') look.push('reachability');
    let onHost: Md[];
    if (!d.ssh) onHost = [md`• not asked: the SSH port does not accept connections`];
    else if (!d.ssh.ok) {
      look.push('SSH');
      onHost = [md`• :warning: SSH failed: ${prose(d.ssh.error)}`];
    } else {
      const f = factLines(d.ssh.value, h.port);
      look.push(...f.warnings);
      onHost = f.lines;
    }
    // The Manager
    let manager: Md;
    if (!d.manager.ok) {
      look.push('the Manager');
      manager = md`• :warning: could not be read: ${prose(d.manager.error)}`;
    } else {
      const m = d.manager.value ?? { status: 'does not list it', lastHeartbeat: null };
      if (m.status !== 'running') look.push(`the Manager (${m.status})`);
      manager = md`• ${managerText(m, Date.now(), '')}`;
    }
    // The monitor
    let monitor: Md[];
    if (!d.board.ok) {
      look.push('the monitor');
      monitor = [md`• :warning: the board could not be read: ${prose(d.board.error)}`];
    } else {
      const snap = d.board.value;
      const status = monitorStatus(snap.view, inv.monitor.leaseMs, snap.readAt);
      const p = hostBoardParts(h.name, snap, status.running);
      if (!status.running) look.push('the monitor (not running)');
      else if (p.view?.state !== 'healthy') look.push(`the monitor (${p.view?.state ?? 'not watched'})`);
      if (p.incident) look.push('an open incident');
      const i = openIncidentOf(snap, h.name);
      const ack = i ? ackOf(i, snap.acks) : null;
      monitor = [
        ...(status.running ? [] : [md`• ${status.line}`]),
        md`• Probe: ${p.probe}`,
        ...(p.incident
          ? [
              md`• ${p.incident}${ack ? md`, acknowledged by ${mention(ack.by)} at ${clock(ack.at, snap.readAt)}` : md`, not acknowledged`}`,
            ]
          : []),
        ...(p.window ? [md`• ${p.window}`] : []),
      ];
    }
    // OCFS2
    let ocfs2: Md;
    if (!d.ocfs2.ok) {
      look.push('OCFS2');
      ocfs2 = md`• :warning: could not be read: ${prose(d.ocfs2.error)}`;
    } else {
      const m = d.ocfs2.value;
      ocfs2 = m
        ? md`• node ${m.node} (\`${m.nodeName}\`) of cluster \`${m.cluster}\` (per ${m.source}'s cluster.conf); to rejoin after a replacement: \`${m.rejoin}\``
        : md`• not a node of an OCFS2 cluster (per the other registered Hosts' cluster.conf)`;
    }
    const sections: Section[] = [
      { title: md`Reachability`, lines: [md`• ${tcp}`] },
      { title: md`On the Host`, lines: onHost },
      { title: md`Manager`, lines: [manager] },
      { title: md`Monitor`, lines: monitor },
      { title: md`OCFS2`, lines: [ocfs2] },
    ];
    const who = md`*${h.name}* (\`${h.fqdn}\`, ${h.ip})`;
    const up =
      d.ssh?.ok && d.ssh.value.uptimeS !== null ? md`, up ${duration(d.ssh.value.uptimeS * 1000)}` : '';
    const summary =
      d.tcp.outcome === 'open'
        ? md`${who} answers on its SSH port${up}${look.length ? md` — :warning: to look at: ${look.join(', ')}` : md`; nothing to report`}`
        : md`${who} does not answer: ${tcp}`;
    return { summary, sections, outcome: look.length ? 'findings' : 'completed' };
  },
});
