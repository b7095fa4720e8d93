import imagine from './imagine.js';
import imagineHistory from './imagine-history.js';
import imagineSettings from './imagine-settings.js';
import imagineShow from './imagine-show.js';
import imagineUsage from './imagine-usage.js';

/**
 * Every slash command the bot registers, one module per command. A static list rather than a scan of the
 * folder: `tsc` never deletes old outputs, so a scan of `dist/commands/` would still load (and register) a
 * command that was renamed or removed. Adding a command is adding it here.
 */
export default [imagine, imagineSettings, imagineUsage, imagineHistory, imagineShow] as const;
