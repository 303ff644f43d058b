/**
 * The made-up workspace the double plays: fixed ids (valid Slack id shapes) so tests and the demo can refer
 * to them, default user/channel matching examples/inventory.yaml, and Slack-shaped generated ids.
 */
import { randomBytes, randomInt } from 'node:crypto';

export const SLACK_DOUBLE_IDS = {
  teamId: 'T0FLEXVDI',
  teamDomain: 'flexvdi-local',
  teamName: 'flexVDI (local)',
  appId: 'A0FLEXVDI',
  botUserId: 'U0FLEXBOT',
  botId: 'B0FLEXBOT',
  botName: 'flexvdi-chatops',
  /** The admin and channels of examples/inventory.yaml: the console's defaults. */
  defaultUser: 'U0ADMIN01',
  defaultChannel: 'C0OPS0001',
  alertChannel: 'C0ALERTS1',
  /** A member who is not an admin in the example inventory: the console's second user. */
  operatorUser: 'U0OPER002',
} as const;

const KNOWN_USERS: Record<string, string> = {
  [SLACK_DOUBLE_IDS.defaultUser]: 'admin',
  [SLACK_DOUBLE_IDS.operatorUser]: 'operator',
  [SLACK_DOUBLE_IDS.botUserId]: SLACK_DOUBLE_IDS.botName,
};
const KNOWN_CHANNELS: Record<string, string> = {
  [SLACK_DOUBLE_IDS.defaultChannel]: 'ops',
  [SLACK_DOUBLE_IDS.alertChannel]: 'alerts',
};

export function userName(userId: string): string {
  return KNOWN_USERS[userId] ?? `user-${userId.toLowerCase()}`;
}

export function channelName(channelId: string): string {
  return KNOWN_CHANNELS[channelId] ?? `channel-${channelId.toLowerCase()}`;
}

/** Shaped like Slack's event ids: "Ev08MFMKH6J7". */
export function newEventId(): string {
  return `Ev${randomBytes(5).toString('hex').toUpperCase()}`;
}

/** Shaped like Slack's trigger ids: "13345224609.738474920.8088930838d88f008e0". */
export function newTriggerId(): string {
  return `${randomInt(1e9, 1e10)}.${randomInt(1e8, 1e9)}.${randomBytes(16).toString('hex')}`;
}
