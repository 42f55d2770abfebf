import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { AccountsService, accountsSettings } from '../domain/accounts/service.js';
import { AppError } from '../errors.js';

/** The commands that open the database, do one thing and close it: no server, no worker. */

/** `trainyard migrate`: applies the pending migrations and exits. */
export async function migrateCommand(): Promise<void> {
  const config = loadConfig();
  const db = await openDb(config);
  try {
    const applied = await migrate(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await db.close();
  }
}

/** `trainyard admin create`: creates an admin, or promotes an existing user of that name. */
export async function adminCreateCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { username: { type: 'string' }, password: { type: 'string' }, email: { type: 'string' } } });
  if (!values.username || !values.password) throw new AppError('USAGE', 'admin create needs --username and --password');
  const config = loadConfig();
  const db = await openDb(config);
  try {
    await migrate(db);
    const accounts = new AccountsService({ db, ...accountsSettings(config) });
    const { user, created } = await accounts.ensureAdmin({
      username: values.username,
      password: values.password,
      email: values.email ?? `${values.username}@trainyard.local`,
    });
    console.log(`${created ? 'created' : 'promoted'} admin ${user.username} (${user.id})`);
  } finally {
    await db.close();
  }
}
