/** The client's commands, in a module of their own so main.ts can route them without loading the client. */
export const CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  'signup',
  'login',
  'logout',
  'whoami',
  'upload',
  'datasets',
  'trainers',
  'train',
  'jobs',
  'watch',
  'models',
  'generate',
  'credits',
]);
