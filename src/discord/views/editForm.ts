/** The Edit form: change a generation's prompt and run it again. */
import { LabelBuilder, ModalBuilder, TextInputBuilder, TextInputStyle } from 'discord.js';
import { NEGATIVE_PROMPT_MAX_LENGTH, PROMPT_MAX_LENGTH } from '../../models/fields.js';
import type { Generation } from '../../store/generations.js';
import { GENERATION_COMPONENTS, encodeCustomId } from '../customId.js';

export const EDIT_FIELDS = { prompt: 'prompt', negativePrompt: 'negative_prompt' } as const;

/**
 * The Edit modal, prefilled with the generation's prompt, and its negative prompt when the model takes one
 * (`negativePrompt`).
 */
export function renderEditModal(generation: Generation, options: { negativePrompt: boolean }): ModalBuilder {
  const prompt = new TextInputBuilder()
    .setCustomId(EDIT_FIELDS.prompt)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(true)
    .setMinLength(1)
    .setMaxLength(PROMPT_MAX_LENGTH)
    .setValue(generation.input.prompt);
  const negative = new TextInputBuilder()
    .setCustomId(EDIT_FIELDS.negativePrompt)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(false)
    .setMaxLength(NEGATIVE_PROMPT_MAX_LENGTH);
  if (generation.input.negative_prompt) negative.setValue(generation.input.negative_prompt);
  const labels = [new LabelBuilder().setLabel('Prompt').setTextInputComponent(prompt)];
  if (options.negativePrompt) {
    labels.push(
      new LabelBuilder()
        .setLabel('Negative prompt')
        .setDescription('What to keep out of the image (optional)')
        .setTextInputComponent(negative),
    );
  }
  return new ModalBuilder()
    .setCustomId(encodeCustomId({ command: GENERATION_COMPONENTS, action: 'edit-submit', id: generation.id }))
    .setTitle('Edit and generate again')
    .addLabelComponents(...labels);
}
