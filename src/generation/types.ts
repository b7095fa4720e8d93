import type { FalFailure } from '../fal/errors.js';
import type { SafetyTolerance } from '../models/fields.js';
import type { UploadBudget } from '../models/outputFormat.js';
import type { FailureKind, Generation, ImageRef, NewGeneration } from '../store/generations.js';
import type { DownloadedImage } from './images.js';

/** Where a job is, as shown to the member while they wait. Elapsed time is rendered by Discord itself. */
export type Progress =
  | { readonly phase: 'waiting'; readonly position: number }
  | { readonly phase: 'submitting' }
  | { readonly phase: 'queued'; readonly position: number }
  | { readonly phase: 'running' }
  | { readonly phase: 'downloading' };

/** Why a job ended without images. Each kind has its own plain-words message. */
export type Failure =
  | FalFailure
  | { kind: 'cancelled' }
  | { kind: 'download' }
  | { kind: 'delivery' }
  | { kind: 'model_unavailable' }
  /** fal no longer serves the endpoint an action needs (the upscaler, a model's /edit): the model itself may be fine. */
  | { kind: 'action_unavailable'; action: 'upscale' | 'edit' };

/**
 * Where the images a generation starts from can be fetched by fal right now: Discord attachment URLs are signed
 * and expire, so they are renewed through Discord each time. The Discord implementation lives in
 * discord/imageLocator.ts.
 */
export interface ImageLocator {
  /**
   * One URL per ref, in order.
   * @throws {ImageUnavailable} (generation/failures.ts) when an image is not on Discord any more.
   */
  urls(refs: readonly ImageRef[]): Promise<string[]>;
}

// Every kind the pipeline reports can be stored.
true satisfies Failure['kind'] extends FailureKind ? true : never;

/**
 * How a job talks back to the member. The Discord implementation edits the interaction's reply; tests and
 * resume-after-restart need nothing else, so the job lifecycle never touches discord.js.
 */
export interface ReplyTarget {
  /** `signal` is aborted once the edit is no longer wanted (the job is ending): one not yet sent is dropped. */
  progress(generation: Generation, progress: Progress, signal?: AbortSignal): Promise<void>;
  /** Posts the images; resolves with the id of the message that shows them. */
  deliver(generation: Generation, images: readonly DownloadedImage[], missing: number): Promise<string | null>;
  fail(generation: Generation, failure: Failure): Promise<void>;
  /** What the destination accepts, so fal is asked for a format that fits (PNG when none is given). */
  uploadBudget?(generation: Generation): UploadBudget;
}

/**
 * A member's request, as the command hands it over: what they chose, where, and when their interaction token
 * stops working; what the server adds (the safety tolerance) apart. The service adds timing and accounting.
 */
export type GenerationRequest = Omit<NewGeneration, 'createdAt' | 'quotaImages' | 'costUsd' | 'safetyTolerance'> & {
  readonly server: { readonly safetyTolerance: SafetyTolerance };
};

/** Two progress states read the same to the member: same phase, and the same place in line where there is one. */
export function sameProgress(a: Progress, b: Progress): boolean {
  if (a.phase !== b.phase) return false;
  return !('position' in a && 'position' in b) || a.position === b.position;
}
