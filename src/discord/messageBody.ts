import { Routes, makeURLSearchParams, type REST } from 'discord.js';
import { sendMessage, type UploadFile } from './upload.js';
import type { MessageView } from './views/common.js';

/**
 * A rendered view as the JSON and files of a message request for {@link sendMessage}: content, components,
 * mentions that never ping beyond the view's own list, and the images as attachments in order. Every message the
 * bot posts with images goes through it (results, /imagine-show).
 */
export function messageBody(view: MessageView): { json: Record<string, unknown>; files: UploadFile[] } {
  const { images } = view;
  const json = {
    content: view.content,
    components: view.components.map((row) => row.toJSON()),
    allowed_mentions: { parse: view.allowedMentions.parse, users: view.allowedMentions.users ?? [] },
    ...(images && { attachments: images.map((image, id) => ({ id: String(id), filename: image.fileName })) }),
  };
  const files = (images ?? []).map((image) => ({
    name: image.fileName,
    data: image.data,
    contentType: image.contentType,
  }));
  return { json, files };
}

/**
 * Answers an interaction with one or more messages: the first edits its (deferred) reply, the others follow up
 * (https://discord.com/developers/docs/interactions/receiving-and-responding#endpoints). The interaction webhook is
 * authorised by the token in its route, not by the bot token.
 */
export async function sendInteractionMessages(
  rest: REST,
  interaction: { readonly applicationId: string; readonly token: string },
  views: readonly MessageView[],
): Promise<void> {
  for (const [index, view] of views.entries()) {
    const { json, files } = messageBody(view);
    await sendMessage(
      rest,
      index === 0
        ? {
            method: 'patch',
            route: Routes.webhookMessage(interaction.applicationId, interaction.token, '@original'),
            json,
            files,
            auth: false,
          }
        : {
            method: 'post',
            route: Routes.webhook(interaction.applicationId, interaction.token),
            json,
            files,
            auth: false,
            query: makeURLSearchParams({ wait: true }),
          },
    );
  }
}
