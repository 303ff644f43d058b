/**
 * Who may do what. Read-only commands: anyone, anywhere. Mutating commands (and confirming them): only the
 * configured admins, only in the configured channels. Refusals are audited by the caller.
 */
import type { Config } from '../config.js';
import type { Access } from '../core/plugin.js';
import { AppError, ErrorCode } from '../errors.js';

export function isAdmin(config: Config, user: string): boolean {
  return config.inventory.slack.admins.includes(user);
}

export function authorize(
  config: Config,
  access: Access,
  mutates: boolean,
  user: string,
  channel: string,
): AppError | undefined {
  if (access === 'admin' && !isAdmin(config, user)) {
    return new AppError(ErrorCode.authNotAdmin, `${user} is not an admin`, {
      userMessage:
        'Only flexVDI admins can run this command. Ask an admin, or ask one to add your Slack user id to `slack.admins` in the inventory.',
    });
  }
  if (mutates && !config.inventory.slack.channels.includes(channel)) {
    const where = config.inventory.slack.channels.map((c) => `<#${c}>`).join(', ');
    return new AppError(ErrorCode.authWrongChannel, `channel ${channel} is not an operations channel`, {
      userMessage: where
        ? `Commands that change the cluster run only in ${where}.`
        : 'Commands that change the cluster need an operations channel: none is configured (`slack.channels` in the inventory).',
    });
  }
  return undefined;
}
