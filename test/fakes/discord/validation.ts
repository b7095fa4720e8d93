/**
 * The rules Discord states in its docs but its OpenAPI schema cannot express (`openapi.ts` checks the
 * schema): message shapes and components, modals, application commands.
 */
import { FLAG_COMPONENTS_V2, FLAG_LOADING, isObject, type Json } from './protocol.js';
import { walkComponents } from './components.js';
import { apiError, formError, type ApiError } from './replies.js';
import type { FakeMessage } from './types.js';

const CHAT_INPUT_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function textLength(components: unknown[]): number {
  let total = 0;
  walkComponents(components, (c) => {
    if (c['type'] === 10 && typeof c['content'] === 'string') total += c['content'].length;
  });
  return total;
}

function embedLength(embeds: unknown[]): number {
  let total = 0;
  for (const embed of embeds.filter(isObject)) {
    for (const key of ['title', 'description'] as const) if (typeof embed[key] === 'string') total += embed[key].length;
    if (isObject(embed['footer']) && typeof embed['footer']['text'] === 'string')
      total += embed['footer']['text'].length;
    if (isObject(embed['author']) && typeof embed['author']['name'] === 'string')
      total += embed['author']['name'].length;
    for (const field of Array.isArray(embed['fields']) ? embed['fields'].filter(isObject) : []) {
      if (typeof field['name'] === 'string') total += field['name'].length;
      if (typeof field['value'] === 'string') total += field['value'].length;
    }
  }
  return total;
}

/**
 * Rules of https://discord.com/developers/docs/components/reference that the schema cannot express:
 * legacy messages hold up to 5 action rows; Components V2 messages carry no content/embeds, at most 40
 * components and 4000 characters of text, and reference only attachments they have; custom_ids are 1-100
 * characters and unique within the message; a message is never empty.
 */
export function validateMessageShape(message: FakeMessage): ApiError | undefined {
  const v2 = (message.flags & FLAG_COMPONENTS_V2) !== 0;
  const { components } = message;
  if (v2) {
    if (message.content !== '')
      return formError(
        ['content'],
        'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
        'The content field cannot be used when using MessageFlags.IS_COMPONENTS_V2',
      );
    if (message.embeds.length > 0)
      return formError(
        ['embeds'],
        'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
        'The embeds field cannot be used when using MessageFlags.IS_COMPONENTS_V2',
      );
    let count = 0;
    walkComponents(components, () => {
      count += 1;
    });
    if (count > 40) return formError(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 40 or fewer in length.');
    if (textLength(components) > 4000)
      return formError(
        ['components'],
        'COMPONENT_MAX_TOTAL_TEXT_LENGTH_EXCEEDED',
        'Total text length must be 4000 or fewer.',
      );
    const names = new Set(message.attachments.map((a) => a.filename));
    let missing: string | undefined;
    walkComponents(components, (c) => {
      const urls: unknown[] = [];
      if (isObject(c['media'])) urls.push(c['media']['url']);
      if (isObject(c['file'])) urls.push(c['file']['url']);
      if (Array.isArray(c['items']))
        for (const item of c['items'].filter(isObject)) if (isObject(item['media'])) urls.push(item['media']['url']);
      for (const url of urls) {
        if (typeof url === 'string' && url.startsWith('attachment://') && !names.has(url.slice('attachment://'.length)))
          missing ??= url;
      }
    });
    if (missing)
      return formError(
        ['components'],
        'UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND',
        `Attachment ${missing} was not found in the message.`,
      );
  } else {
    if (components.length > 5)
      return formError(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    for (const [i, row] of components.entries()) {
      if (!isObject(row) || row['type'] !== 1) {
        return formError(
          ['components', i, 'type'],
          'COMPONENT_LAYOUT_INVALID',
          'Only action rows can be top-level components without the IS_COMPONENTS_V2 flag.',
        );
      }
    }
  }
  for (const [i, row] of components.entries()) {
    if (!isObject(row) || row['type'] !== 1 || !Array.isArray(row['components'])) continue;
    const children = row['components'].filter(isObject);
    if (children.length > 5)
      return formError(['components', i, 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    const selects = children.filter((c) => c['type'] !== 2);
    if (selects.length > 0 && children.length > 1) {
      return formError(
        ['components', i, 'components'],
        'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
        'A select menu must be alone in its action row.',
      );
    }
    for (const [j, button] of children.entries()) {
      if (button['type'] !== 2) continue;
      const link = button['style'] === 5;
      const premium = button['style'] === 6;
      if (link && (typeof button['url'] !== 'string' || button['custom_id'] !== undefined)) {
        return formError(
          ['components', i, 'components', j],
          'BUTTON_COMPONENT_URL_REQUIRED',
          'Link buttons need a url and cannot have a custom_id.',
        );
      }
      if (!link && !premium && typeof button['custom_id'] !== 'string') {
        return formError(
          ['components', i, 'components', j, 'custom_id'],
          'BUTTON_COMPONENT_CUSTOM_ID_REQUIRED',
          'Buttons need a custom_id.',
        );
      }
      if (!link && !premium && button['label'] === undefined && button['emoji'] === undefined) {
        return formError(
          ['components', i, 'components', j],
          'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED',
          'Buttons need a label or an emoji.',
        );
      }
    }
  }
  const seen = new Set<string>();
  let problem: ApiError | undefined;
  walkComponents(components, (c) => {
    const customId = c['custom_id'];
    if (problem || customId === undefined) return;
    if (typeof customId !== 'string' || customId.length < 1 || customId.length > 100) {
      problem = formError(['components'], 'BASE_TYPE_BAD_LENGTH', 'custom_id must be between 1 and 100 in length.');
    } else if (seen.has(customId)) {
      problem = formError(
        ['components'],
        'COMPONENT_CUSTOM_ID_DUPLICATED',
        `Component custom id "${customId}" cannot be duplicated`,
      );
    } else {
      seen.add(customId);
    }
  });
  if (problem) return problem;
  if (embedLength(message.embeds) > 6000)
    return formError(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Embed size exceeds maximum size of 6000');
  const loading = (message.flags & FLAG_LOADING) !== 0;
  const empty =
    message.content === '' &&
    message.embeds.length === 0 &&
    components.length === 0 &&
    message.attachments.length === 0;
  if (!loading && empty && !message.poll) {
    return apiError(400, 50006, 'Cannot send an empty message');
  }
  return undefined;
}

/** Modal rules: custom_id 1-100, title 1-45, 1-5 top-level components, unique custom_ids, text inputs within 4000. */
export function validateModal(data: Json): ApiError | undefined {
  const customId = data['custom_id'];
  if (typeof customId !== 'string' || customId.length < 1 || customId.length > 100) {
    return formError(['data', 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  const title = data['title'];
  if (typeof title !== 'string' || title.length < 1 || title.length > 45) {
    return formError(['data', 'title'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 45 in length.');
  }
  const components = Array.isArray(data['components']) ? data['components'] : [];
  if (components.length < 1 || components.length > 5) {
    return formError(['data', 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
  }
  const seen = new Set<string>();
  let problem: ApiError | undefined;
  walkComponents(components, (c) => {
    if (problem) return;
    const id = c['custom_id'];
    if (typeof id === 'string') {
      if (id.length < 1 || id.length > 100)
        problem = formError(
          ['data', 'components'],
          'BASE_TYPE_BAD_LENGTH',
          'custom_id must be between 1 and 100 in length.',
        );
      else if (seen.has(id))
        problem = formError(
          ['data', 'components'],
          'COMPONENT_CUSTOM_ID_DUPLICATED',
          `Component custom id "${id}" cannot be duplicated`,
        );
      seen.add(id);
    }
    if (c['type'] === 4) {
      for (const key of ['max_length', 'min_length'] as const) {
        const n = c[key];
        if (typeof n === 'number' && (n < 0 || n > 4000))
          problem = formError(['data', 'components'], 'NUMBER_TYPE_MAX', `${key} must be between 0 and 4000.`);
      }
      if (typeof c['value'] === 'string' && c['value'].length > 4000)
        problem = formError(['data', 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 4000 or fewer in length.');
    }
  });
  return problem;
}

/**
 * Command rules of https://discord.com/developers/docs/interactions/application-commands beyond the schema:
 * lowercase chat-input names, unique names per type, required options first, unique option names,
 * at most 100 chat-input commands and 8000 characters per command.
 */
export function validateCommands(commands: Json[]): ApiError | undefined {
  const seen = new Set<string>();
  let chatInput = 0;
  for (const [i, command] of commands.entries()) {
    const type = typeof command['type'] === 'number' ? command['type'] : 1;
    const name = typeof command['name'] === 'string' ? command['name'] : '';
    if (type === 1) {
      chatInput += 1;
      if (!CHAT_INPUT_NAME.test(name) || name !== name.toLowerCase()) {
        return formError([i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', `Command name "${name}" is invalid`);
      }
      const description = command['description'];
      if (typeof description !== 'string' || description.length < 1 || description.length > 100) {
        return formError([i, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      }
    } else if (typeof command['description'] === 'string' && command['description'] !== '') {
      return formError(
        [i, 'description'],
        'APPLICATION_COMMAND_DESCRIPTION_INVALID',
        'Context menu commands cannot have a description.',
      );
    }
    const key = `${type}:${name}`;
    if (seen.has(key))
      return formError([i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
    const optionError = validateOptions(Array.isArray(command['options']) ? command['options'].filter(isObject) : [], [
      i,
      'options',
    ]);
    if (optionError) return optionError;
    if (commandSize(command) > 8000)
      return formError([i], 'APPLICATION_COMMAND_TOO_LARGE', 'Command exceeds maximum size (8000)');
  }
  if (chatInput > 100) return apiError(400, 30032, 'Maximum number of application commands reached (100)');
  return undefined;
}

function validateOptions(options: Json[], path: Array<string | number>): ApiError | undefined {
  const names = new Set<string>();
  let optionalSeen = false;
  for (const [j, option] of options.entries()) {
    const name = typeof option['name'] === 'string' ? option['name'] : '';
    if (!CHAT_INPUT_NAME.test(name) || name !== name.toLowerCase()) {
      return formError([...path, j, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', `Option name "${name}" is invalid`);
    }
    if (names.has(name))
      return formError(
        [...path, j, 'name'],
        'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS',
        'Option names must be unique',
      );
    names.add(name);
    const required = option['required'] === true;
    if (required && optionalSeen) {
      return formError(
        [...path, j, 'required'],
        'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
        'Required options must be placed before non-required options',
      );
    }
    if (!required) optionalSeen = true;
    if (option['autocomplete'] === true && Array.isArray(option['choices']) && option['choices'].length > 0) {
      return formError(
        [...path, j, 'autocomplete'],
        'APPLICATION_COMMAND_AUTOCOMPLETE_INVALID',
        'Autocomplete cannot be used with choices',
      );
    }
    if (Array.isArray(option['options'])) {
      const nested = validateOptions(option['options'].filter(isObject), [...path, j, 'options']);
      if (nested) return nested;
    }
  }
  return undefined;
}

function commandSize(command: Json): number {
  let total = 0;
  const add = (value: unknown): void => {
    if (typeof value === 'string') total += value.length;
    else if (typeof value === 'number') total += String(value).length;
    else if (isObject(value)) for (const v of Object.values(value)) add(v);
  };
  add(command['name']);
  add(command['description']);
  add(command['name_localizations']);
  add(command['description_localizations']);
  const visit = (options: unknown): void => {
    if (!Array.isArray(options)) return;
    for (const option of options.filter(isObject)) {
      add(option['name']);
      add(option['description']);
      add(option['name_localizations']);
      add(option['description_localizations']);
      for (const choice of Array.isArray(option['choices']) ? option['choices'].filter(isObject) : []) {
        add(choice['name']);
        add(choice['value']);
        add(choice['name_localizations']);
      }
      visit(option['options']);
    }
  };
  visit(command['options']);
  return total;
}
