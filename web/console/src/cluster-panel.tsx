/** Demo mode: the simulated cluster's Hosts, with a fault to inject into each and a heal. */
import { useState } from 'react';
import { type Cluster, type ClusterHost, describeError, post } from './api.ts';

function HostRow({
  host,
  modes,
  onError,
}: {
  host: ClusterHost;
  modes: string[];
  onError: (e: string | null) => void;
}) {
  const [mode, setMode] = useState(modes[0] ?? '');
  const act = async (path: string, body: Record<string, unknown>, what: string) => {
    const a = await post(path, body);
    onError(a.ok ? null : `${what} ${host.name} failed: ${describeError(a)}`);
  };
  return (
    <tr>
      <th scope="row">{host.name}</th>
      <td>{host.ip}</td>
      <td>
        <span className={`state state-${host.state}`}>{host.state}</span>
        {host.fault && <span className="muted"> ({host.fault})</span>}
      </td>
      <td>{host.runsManager ? <span className="badge">runs the Manager</span> : ''}</td>
      <td className="host-actions">
        <select
          aria-label={`Fault mode for ${host.name}`}
          value={mode}
          onChange={(e) => setMode(e.target.value)}
        >
          {modes.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="danger"
          onClick={() => act('/console/cluster/fail', { host: host.name, mode }, 'Failing')}
        >
          Fail {host.name}
        </button>
        <button type="button" onClick={() => act('/console/cluster/heal', { host: host.name }, 'Healing')}>
          Heal {host.name}
        </button>
      </td>
    </tr>
  );
}

export function ClusterPanel({ cluster }: { cluster: Cluster }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <section className="cluster" aria-labelledby="cluster-title">
      <header className="pane-header">
        <h1 id="cluster-title">Cluster (demo)</h1>
      </header>
      <div className="cluster-body">
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <table>
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">IP</th>
              <th scope="col">State</th>
              <th scope="col">Manager</th>
              <th scope="col">Fault</th>
            </tr>
          </thead>
          <tbody>
            {cluster.hosts.map((h) => (
              <HostRow key={h.name} host={h} modes={cluster.modes} onError={setError} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
