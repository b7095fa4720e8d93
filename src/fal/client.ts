import { createFalClient, type FalClient } from '@fal-ai/client';

/**
 * Builds the fal client the bot uses, with no global configuration (fal-js's factory style).
 * When `baseUrl` is set, every queue call (submit, status, result, cancel) goes there instead of
 * `https://queue.fal.run`: that is how tests reach a loopback fake, and how an operator puts a proxy in front.
 * (`proxyUrl` as a plain string does nothing in Node, so the override is a request middleware.)
 */
export function createFal(options: { key: string; baseUrl?: string | undefined }): FalClient {
  const { baseUrl } = options;
  return createFalClient({
    credentials: options.key,
    ...(baseUrl && {
      requestMiddleware: async (request) => ({
        ...request,
        url: request.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, baseUrl),
      }),
    }),
  });
}
