/**
 * What a testbed Host's "agent" needs from the stand-in when the stand-in runs as its own process: a
 * heartbeat over HTTPS (`POST /testbed/heartbeat`), through the product's own transport and session, so it
 * gets the same certificate pinning and re-login. In-process users can call `standin.heartbeat()` instead.
 */
import type { Logger } from 'pino';
import { Secret } from '../../config.js';
import { resultWire } from '../../manager/schemas.js';
import { createSession } from '../../manager/session.js';
import { createTransport, type ManagerTlsOptions } from '../../manager/transport.js';
import type { AgentState } from './state.js';

export interface StandinAgentOptions {
  url: string;
  username: string;
  password: string;
  tls: ManagerTlsOptions;
  timeoutMs?: number;
  log: Logger;
}

export interface StandinAgent {
  /** Reports `hostId` alive (with the given agent state); rejects with `manager.rejected` for an unknown Host. */
  heartbeat(hostId: string, state?: AgentState): Promise<void>;
  close(): Promise<void>;
}

export function createStandinAgent(opts: StandinAgentOptions): StandinAgent {
  const log = opts.log.child({ component: 'standin-agent' });
  const transport = createTransport({ url: opts.url, tls: opts.tls, timeoutMs: opts.timeoutMs ?? 5000, log });
  const password = new Secret(opts.password);
  const session = createSession({ transport, username: opts.username, password: () => password, log });
  return {
    async heartbeat(hostId, state = 'running') {
      await session.call('POST', '/testbed/heartbeat', resultWire, `heartbeat of ${hostId}`, {
        host_id: hostId,
        status: state,
      });
    },
    close: () => session.logout(),
  };
}
