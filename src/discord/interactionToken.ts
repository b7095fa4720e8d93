/**
 * Interaction tokens are valid for 15 minutes after the interaction was created
 * (https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages).
 */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

/** When an interaction's token stops working. */
export function tokenExpiry(interactionCreatedAt: number): number {
  return interactionCreatedAt + INTERACTION_TOKEN_LIFETIME_MS;
}
