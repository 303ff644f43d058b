/** Options every testbed command shares, and loading a running testbed's state and layout by name. */
import path from 'node:path';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { TestbedErrorCode } from './errors.js';
import { inHost } from './host-process.js';
import { DEFAULT_NAME, layoutFor, stateDirOf, type TestbedLayout, testbedNameRe } from './layout.js';
import { defaultStateRoot } from './paths.js';
import { readState, type TestbedState } from './state.js';

export interface TestbedRef {
  /** Testbed name (default "default"): every namespace, link, subnet and folder derives from it. */
  name?: string;
  /** Parent of the state folders (default `<repo>/.state/testbed`). */
  stateRoot?: string;
  log: Logger;
}

export function resolveRef(ref: TestbedRef): { name: string; stateDir: string } {
  const name = ref.name ?? DEFAULT_NAME;
  if (!testbedNameRe.test(name)) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `testbed name "${name}" must be 1–30 lower-case letters, digits or "-", starting with a letter or digit`,
    );
  }
  return { name, stateDir: path.resolve(stateDirOf(name, ref.stateRoot ?? defaultStateRoot)) };
}

export function layoutOfState(s: TestbedState): TestbedLayout {
  return layoutFor(s.name, s.stateDir, s.octet, s.options.hosts);
}

export interface LoadedTestbed {
  state: TestbedState;
  layout: TestbedLayout;
}

/** The testbed's state (it must be up). */
export function loadTestbed(ref: TestbedRef): LoadedTestbed {
  const { name, stateDir } = resolveRef(ref);
  const state = readState(layoutFor(name, stateDir, 0, 0).files.state);
  if (state?.phase !== 'up') {
    throw new AppError(TestbedErrorCode.notRunning, `testbed "${name}" is not up (no state in ${stateDir})`);
  }
  return { state, layout: layoutOfState(state) };
}

export function hostIndex(loaded: LoadedTestbed, host: string): number {
  const i = loaded.state.hosts.findIndex((h) => h.name === host || h.fqdn === host || h.ip === host);
  if (i < 0) {
    const names = loaded.state.hosts.map((h) => h.name).join(', ');
    throw new AppError(
      TestbedErrorCode.unknownHost,
      `no Host "${host}" in testbed "${loaded.state.name}" (${names})`,
    );
  }
  return i;
}

/**
 * Runs a bash script inside a running Host, as one of its processes (namespaces and cgroup), bypassing SSH:
 * for tests and the testbed's own checks. Params are the script's "$1"…; result as `run` returns it.
 */
export async function runOnHost(ref: TestbedRef & { host: string }, script: string, params: string[] = []) {
  const loaded = loadTestbed(ref);
  const i = hostIndex(loaded, ref.host);
  return inHost(loaded.layout, loaded.layout.hosts[i]!, script, params);
}
