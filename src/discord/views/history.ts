/**
 * /imagine-history's list: a member's recent generations in one server, newest first, one page at a time, with
 * Newer/Older buttons whose custom_ids carry the id the next page starts from (`imagine-history:older:<id>`).
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  TimestampStyles,
  time,
  type MessageActionRowComponentBuilder,
} from 'discord.js';
import { findModel } from '../../models/registry.js';
import type { FailureKind, Generation, HistoryPage } from '../../store/generations.js';
import { encodeCustomId } from '../customId.js';
import { quoteUserText } from '../text.js';
import { NO_PINGS, type MessageView } from './common.js';
import { generationLink } from './jobMessages.js';

/** The command whose handler owns the page buttons (commands/imagine-history.ts declares the same name). */
export const HISTORY_COMPONENTS = 'imagine-history';

/** Generations per page: eight fit Discord's 2000 characters even with long prompts, ids and links. */
export const HISTORY_PAGE_SIZE = 8;

/** Discord's limit on a message's content. */
const CONTENT_MAX_LENGTH = 2000;

/** How much of each prompt a page quotes; shorter only when a page would not fit otherwise. */
const PROMPT_BUDGETS = [120, 90, 60, 40, 20];

/** Why a job ended without images, in a word or two. */
const FAILURE_WORDS: Record<FailureKind, string> = {
  safety: 'safety filter',
  invalid_input: 'options refused',
  unauthorized: 'bot not set up',
  no_credit: 'out of credit',
  busy: 'fal busy',
  timeout: 'timed out',
  not_found: 'lost at fal',
  unknown: 'error',
  cancelled: 'cancelled',
  download: 'download failed',
  delivery: 'upload failed',
  model_unavailable: 'model gone',
  image_unavailable: 'image gone',
  action_unavailable: 'not served',
  not_acknowledged: 'never started',
};

/** A job's state in plain words: done (with its image count), failed and why, cancelled, or in progress. */
export function historyStatus(generation: Generation): string {
  switch (generation.status) {
    case 'done': {
      const count = generation.imageCount;
      const images = `✅ ${count} image${count === 1 ? '' : 's'}`;
      return generation.messageId ? images : `${images}, message deleted`;
    }
    case 'failed':
      return `⚠️ failed: ${generation.failureKind ? FAILURE_WORDS[generation.failureKind] : 'error'}`;
    case 'cancelled':
      return '✖️ cancelled';
    default:
      return '⏳ in progress';
  }
}

function entry(generation: Generation, promptBudget: number): string {
  const model = findModel(generation.modelId)?.label ?? generation.modelId;
  const link = generationLink(generation);
  const details = [
    model,
    historyStatus(generation),
    time(Math.floor(generation.createdAt / 1000), TimestampStyles.RelativeTime),
    ...(link ? [link] : []),
  ];
  return [
    `**#${generation.id}** ${quoteUserText(generation.input.prompt, promptBudget)}`,
    `-# ${details.join(' · ')}`,
  ].join('\n');
}

function pageButton(action: 'newer' | 'older', id: number, enabled: boolean): ButtonBuilder {
  return new ButtonBuilder()
    .setCustomId(encodeCustomId({ command: HISTORY_COMPONENTS, action, id }))
    .setLabel(action === 'newer' ? 'Newer' : 'Older')
    .setEmoji({ name: action === 'newer' ? '◀️' : '▶️' })
    .setStyle(ButtonStyle.Secondary)
    .setDisabled(!enabled);
}

/** One page of a member's history, as an ephemeral message's content and page buttons. */
export function renderHistory(page: HistoryPage): MessageView {
  const first = page.generations[0];
  const last = page.generations.at(-1);
  if (!first || !last) {
    return {
      content: 'You have no images on this server yet. Make some with /imagine.',
      components: [],
      allowedMentions: NO_PINGS,
    };
  }
  const components =
    page.newer || page.older
      ? [
          new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(
            pageButton('newer', first.id, page.newer),
            pageButton('older', last.id, page.older),
          ),
        ]
      : [];
  const head = '**Your images on this server**, newest first';
  const foot = '-# `/imagine-show` with a number posts that result again.';
  let content = '';
  for (const budget of PROMPT_BUDGETS) {
    content = [head, ...page.generations.map((generation) => entry(generation, budget)), foot].join('\n');
    if (content.length <= CONTENT_MAX_LENGTH) break;
  }
  return { content, components, allowedMentions: NO_PINGS };
}
