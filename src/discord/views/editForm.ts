/** The Edit form: change a generation's prompt and run it again. */
import { LabelBuilder, ModalBuilder, TextInputBuilder, TextInputStyle } from 'discord.js';
import { NEGATIVE_PROMPT_MAX_LENGTH, PROMPT_MAX_LENGTH } from '../../models/fields.js';
import type { Generation } from '../../store/generations.js';
import { GENERATION_COMPONENTS, encodeCustomId } from '../customId.js';

export const EDIT_FIELDS = { prompt: 'prompt', negativePrompt: 'negative_prompt', instruction: 'instruction' } as const;

/** The Edit image form: what to change in one image of a result, in the member's words ("make the sky purple"). */
export function renderEditImageModal(generation: Generation, image: number): ModalBuilder {
  const instruction = new TextInputBuilder()
    .setCustomId(EDIT_FIELDS.instruction)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(true)
    .setMinLength(1)
    .setMaxLength(PROMPT_MAX_LENGTH)
    .setPlaceholder('e.g. make the sky purple, add a small red boat');
  return new ModalBuilder()
    .setCustomId(
      encodeCustomId({ command: GENERATION_COMPONENTS, action: 'edit-image-submit', id: generation.id, image }),
    )
    .setTitle(`Edit image ${image + 1}`)
    .addLabelComponents(
      new LabelBuilder()
        .setLabel('What should change?')
        .setDescription('The rest of the image stays as it is, its shape too unless you ask otherwise')
        .setTextInputComponent(instruction),
    );
}

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
