/**
 * `/flexvdi storage status` through the whole stack against the Manager stand-in (real HTTPS on loopback):
 * read-only (no plan, no Confirm), what an empty Manager reports, Image Storages and Volumes created through
 * the Manager's API with the Manager's disk moved onto shared storage, and a Manager that does not answer
 * (the job fails saying where it tried, and no secret is shown).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createManagerClient, type ManagerClient } from '../../src/manager/index.js';
import { type ManagerStandin, startManagerStandin } from '../../src/testbed/manager/server.js';
import { planOf } from '../support/flow.js';
import { type Stack, startStack } from '../support/harness.js';
import { tempDir } from './helpers.js';

const PASSWORD = 'Pw-storage-status-7c1d';
const quiet = createLogger({ level: 'silent' });

/** A Manager stand-in with its state in `dir`, and a client of it. */
async function standinIn(dir: string): Promise<{ standin: ManagerStandin; manager: ManagerClient }> {
  const standin = await startManagerStandin({
    stateFile: `${dir}/state.json`,
    username: 'admin',
    password: PASSWORD,
    log: quiet,
  });
  const manager = createManagerClient({
    url: standin.url,
    username: 'admin',
    password: () => new Secret(PASSWORD),
    tls: { fingerprint256: standin.fingerprint256 ?? undefined },
    timeoutMs: 3000,
    log: quiet,
  });
  return { standin, manager };
}

/** This command's job, once it ended: its state (the job-state record) and what the user sees of it. */
async function status(s: Stack): Promise<{ state: string; shown: string }> {
  const seen = await planOf(s, 'storage status');
  return { state: seen.record.state, shown: seen.text.replace(/\u200b/g, '') };
}

describe('storage status against the Manager stand-in', () => {
  const tmp = tempDir('storage-status');
  let standin: ManagerStandin;
  let manager: ManagerClient;
  let s: Stack;

  beforeAll(async () => {
    ({ standin, manager } = await standinIn(tmp.dir));
    s = await startStack({ services: { manager } });
  });

  afterAll(async () => {
    await s?.stop();
    await standin?.close();
    tmp.remove();
  });

  it('on an empty Manager: no Image Storage, no Volume, the disk on local storage; read-only, no Confirm', async () => {
    const { state, shown } = await status(s);
    expect(state).toBe('completed');
    expect(shown).toContain("0 Image Storage(s), 0 Volume(s); the Manager's disk is on local storage");
    expect(shown).toMatch(/Image Storages[\s\S]*none[\s\S]*Volumes[\s\S]*none/);
    expect(shown).not.toContain('flexvdi_confirm');
    const disk = await manager.getManagerDisk();
    expect(shown).toContain(disk.path);
  });

  it('lists what the Manager holds and says the Manager is HA-ready once its disk is on shared storage', async () => {
    await manager.createImageStorage({
      name: 'images1',
      device: '/dev/disk/by-id/wwn-0x5000',
      cluster: 'fvdi',
    });
    await manager.createImageStorage({
      name: 'images2',
      device: '/dev/disk/by-id/wwn-0x6000',
      cluster: 'fvdi',
    });
    await manager.createVolume({ name: 'vol-a', imageStorage: 'images1', sizeGb: 200 });
    await manager.createVolume({ name: 'vol-b', imageStorage: 'images2', sizeGb: 50 });
    // The product moves the Manager's disk through the Hosts; restarted from the moved image, it says so.
    const port = standin.port;
    await standin.close();
    standin = await startManagerStandin({
      stateFile: `${tmp.dir}/state.json`,
      username: 'admin',
      password: PASSWORD,
      port,
      runningOn: 'host1.flexvdi.test',
      diskPath: '/var/lib/flexvdi/image-storages/images1/flexvdi-manager.img',
      log: quiet,
    });
    const moved = await manager.getManagerDisk();
    expect(moved).toMatchObject({ onSharedStorage: true, imageStorage: 'images1' });

    const { state, shown } = await status(s);
    expect(state).toBe('completed');
    expect(shown).toContain(
      "2 Image Storage(s), 2 Volume(s); the Manager's disk is on shared storage (HA ready)",
    );
    expect(shown).toContain('*images1* on `/dev/disk/by-id/wwn-0x5000` (cluster fvdi)');
    expect(shown).toContain('*images2* on `/dev/disk/by-id/wwn-0x6000` (cluster fvdi)');
    expect(shown).toContain('*vol-a* 200 GB in images1');
    expect(shown).toContain('*vol-b* 50 GB in images2');
    expect(shown).toContain(moved.path);
  });
});

describe('storage status when the Manager does not answer', () => {
  let s: Stack;
  let standin: ManagerStandin;
  const tmp = tempDir('storage-status-down');

  beforeAll(async () => {
    const started = await standinIn(tmp.dir);
    standin = started.standin;
    const manager = started.manager;
    await standin.close(); // the address is right, nothing listens any more
    s = await startStack({ services: { manager } });
  });

  afterAll(async () => {
    await s?.stop();
    tmp.remove();
  });

  it('fails the job with a message that names the Manager and its address', async () => {
    const { state, shown } = await status(s);
    expect(state).toBe('failed');
    expect(shown).toMatch(/Manager/);
    expect(shown).toContain(new URL(standin.url).host);
    expect(shown).not.toContain(PASSWORD);
  });
});
