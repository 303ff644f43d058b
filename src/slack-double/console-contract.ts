/**
 * Shapes of the console's HTTP contract that both sides declare: the server (console-state.ts) and the
 * browser (web/console/src/api.ts, a type-only import). Types only, no imports: the page's build reads it.
 */

export interface ConsoleUser {
  id: string;
  name: string;
  /** What the app's configuration says (shown in the user switcher); the app decides, not the console. */
  admin: boolean;
}

/** A Host of the demo's cluster as the cluster panel shows it. */
export interface ClusterHost {
  name: string;
  fqdn: string;
  ip: string;
  state: string;
  fault?: string;
  runsManager: boolean;
}
