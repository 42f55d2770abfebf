import { createHmac } from 'node:crypto';
import type { Queryable } from '../../db/db.js';
import { ConfigError } from '../../errors.js';

const KEY = 'secret_fingerprint';

/** An HMAC of a fixed text under the secret: equal for equal secrets, and reveals nothing of it. */
export function secretFingerprint(secret: Buffer): string {
  return createHmac('sha256', secret).update('trainyard secret fingerprint v1').digest('base64url');
}

/**
 * Every process on one Postgres database signs and checks tokens (sessions, signed URLs,
 * attempt tokens) with keys derived from TRAINYARD_SECRET, so all of them must have the same
 * one. The first process records the secret's fingerprint; one with another secret refuses to
 * start, naming the setting, unless told the change is meant (`rotate`: every old token dies).
 */
export async function checkSecretFingerprint(db: Queryable, secret: Buffer, rotate: boolean): Promise<'recorded' | 'same' | 'rotated'> {
  const fp = secretFingerprint(secret);
  const inserted = await db.query(`insert into deployment_settings (key, value) values ($1, $2) on conflict (key) do nothing`, [KEY, fp]);
  if (inserted.rowCount === 1) return 'recorded';
  const { rows } = await db.query<{ value: string }>('select value from deployment_settings where key = $1', [KEY]);
  if (rows[0]?.value === fp) return 'same';
  if (rotate) {
    await db.query('update deployment_settings set value = $2, updated_at = now() where key = $1', [KEY, fp]);
    return 'rotated';
  }
  throw new ConfigError(
    'TRAINYARD_SECRET',
    'differs from the secret the other Trainyard processes on this database use, so each would refuse the others’ tokens. ' +
      'Give every process (API replicas and workers) the same TRAINYARD_SECRET; a secret generated into each DATA_DIR differs per machine. ' +
      'To change the secret on purpose, stop every process and start the first one with TRAINYARD_SECRET_ROTATE=true (every issued token then ends)',
  );
}
