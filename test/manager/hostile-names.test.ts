/**
 * Strings from the Manager reach Slack escaped. The Manager stand-in (real HTTPS on loopback) serves state
 * holding hostile names — a Host id `<!channel>`, an Image Storage `*x*` on a device `<@U0EVIL999>`, a Volume
 * `_v_` and a link — as a compromised or careless Manager could; `/flexvdi hosts` and `/flexvdi storage
 * status` must show them as text: nobody paged, nobody mentioned, no link, no formatting.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createManagerClient } from '../../src/manager/index.js';
import { type ManagerStandin, startManagerStandin } from '../../src/testbed/manager/server.js';
import { blocksText, type Stack, startStack } from '../support/harness.js';
import { sshKeyLine, tempDir } from './helpers.js';

const PASSWORD = 'Pw-hostile-names-4b2e';
const now = new Date().toISOString();
const host = (id: string) => ({
  host_id: id,
  ssh_pubkey: sshKeyLine('flexvdi@x'),
  ssh_serverkey: sshKeyLine(),
  secret: 'agent-secret-not-shown',
  registered_at: now,
  last_heartbeat: now,
  agent_state: 'running',
  registrations: [],
});

describe('hostile names from the Manager', () => {
  const tmp = tempDir('hostile');
  let standin: ManagerStandin;
  let s: Stack;

  beforeAll(async () => {
    const stateFile = path.join(tmp.dir, 'state.json');
    writeFileSync(
      stateFile,
      JSON.stringify({
        version: 1,
        hosts: {
          '<!channel>': host('<!channel>'),
          '<http://evil.example|click>': host('<http://evil.example|click>'),
        },
        image_storages: {
          '*x*': { storage_id: 's1', name: '*x*', device: '<@U0EVIL999>', cluster: '~c~', created_at: now },
        },
        volumes: {
          _v_: { volume_id: 'v1', name: '_v_', image_storage: '*x*', size_gb: 10, created_at: now },
        },
        manager_disk: {
          path: '/`disk`/<!here>.img',
          on_shared_storage: false,
          image_storage: null,
          moved_at: null,
        },
      }),
    );
    standin = await startManagerStandin({
      stateFile,
      username: 'admin',
      password: PASSWORD,
      log: createLogger({ level: 'silent' }),
    });
    const manager = createManagerClient({
      url: standin.url,
      username: 'admin',
      password: () => new Secret(PASSWORD),
      tls: { fingerprint256: standin.fingerprint256 ?? undefined },
      timeoutMs: 5000,
      log: createLogger({ level: 'silent' }),
    });
    s = await startStack({ services: { manager } });
  });

  afterAll(async () => {
    await s?.stop();
    await standin?.close();
    tmp.remove();
  });

  /** Everything Slack received for the message and its thread, as one string. */
  function everything(re: RegExp): string {
    const msgs = s.double
      .calls()
      .filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update');
    const text = msgs.map((c) => JSON.stringify(c.params)).join('\n');
    expect(text).toMatch(re);
    return text;
  }

  it('storage status shows `*x*`, `_v_`, the device and the disk path as text', async () => {
    await s.send('storage status');
    const msg = await s.waitForMessage(/storage status — completed/);
    const shown = `${msg.text}\n${blocksText(msg.blocks)}`;
    const all = everything(/storage status/);
    for (const t of [shown, all]) {
      expect(t).not.toContain('<@U0EVIL999>');
      expect(t).not.toContain('<!here>');
      expect(t).not.toMatch(/(^|[^\u200b])\*x\*/);
      expect(t).not.toMatch(/(^|[^\u200b])_v_/);
      expect(t).not.toMatch(/(^|[^\u200b])~c~/);
    }
    // …and the reader still sees the names (zero-width spaces are invisible; the look-alike backtick stays)
    const visible = shown.replace(/\u200b/g, '');
    expect(visible).toContain('*x*');
    expect(visible).toContain('_v_');
    expect(visible).toContain('&lt;@U0EVIL999&gt;');
    expect(visible).toContain('&lt;!here&gt;');
  });

  it('hosts shows the Manager-only Host ids as text: no channel ping, no link', async () => {
    await s.send('hosts');
    const msg = await s.waitForMessage(/\/flexvdi hosts — /);
    const shown = `${msg.text}\n${blocksText(msg.blocks)}`;
    expect(shown).toContain('&lt;!channel&gt;');
    expect(shown).toContain('&lt;http://evil.example|click&gt;');
    const all = everything(/flexvdi hosts/);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<http://evil.example');
    expect(all).not.toContain('agent-secret-not-shown');
  });
});
