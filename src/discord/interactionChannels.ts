import { ChannelType, GatewayDispatchEvents, type Client, type GatewayInteractionCreateDispatchData } from 'discord.js';

/** Forgotten first if an interaction is never routed (discord.js drops a few kinds it does not model). */
const MAX_REMEMBERED = 1000;

const THREAD_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
  ChannelType.AnnouncementThread,
]);

/**
 * The type of the channel each interaction came from, as the gateway payload tells it. API v10 sends the partial
 * channel with every interaction (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object),
 * but discord.js keeps it only by adding it to its channel cache, which a bot without intents or the Channel
 * partial never fills: `interaction.channel` is always null. The raw dispatch is seen just before discord.js
 * builds the interaction from it; the router forgets the entry once the interaction is handled.
 */
export class InteractionChannels {
  readonly #types = new Map<string, ChannelType>();

  constructor(client: Client) {
    client.ws.on(GatewayDispatchEvents.InteractionCreate, (data: GatewayInteractionCreateDispatchData) => {
      const type = data.channel?.type;
      if (type === undefined) return;
      this.#types.set(data.id, type);
      if (this.#types.size > MAX_REMEMBERED) {
        const oldest = this.#types.keys().next();
        if (!oldest.done) this.#types.delete(oldest.value);
      }
    });
  }

  /** Whether the interaction was used in a thread (public, private or announcement). */
  isThread(interactionId: string): boolean {
    const type = this.#types.get(interactionId);
    return type !== undefined && THREAD_TYPES.has(type);
  }

  forget(interactionId: string): void {
    this.#types.delete(interactionId);
  }
}
