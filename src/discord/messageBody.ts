import type { MessageView } from './views/common.js';
import type { UploadFile } from './upload.js';

/**
 * A rendered view as the JSON and files of a message request for {@link sendMessage} (./upload.ts): content,
 * components, mentions that never ping beyond the view's own list, and the images as attachments in order.
 * The same body DiscordReplyTarget builds for results.
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
