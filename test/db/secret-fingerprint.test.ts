import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { checkSecretFingerprint, secretFingerprint } from '../../src/domain/accounts/secret-fingerprint.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await migrate(t.db);
});
afterAll(() => t.drop());

const one = Buffer.from('the first secret, at least thirty-two characters');
const two = Buffer.from('another secret, also at least thirty-two characters');

describe('the secret every process on one database must share', () => {
  it('is recorded by the first process as a fingerprint, never the secret itself', async () => {
    expect(await checkSecretFingerprint(t.db, one, false)).toBe('recorded');
    const { rows } = await t.db.query<{ value: string }>(`select value from deployment_settings where key = 'secret_fingerprint'`);
    expect(rows[0]!.value).toBe(secretFingerprint(one));
    expect(rows[0]!.value).not.toContain(one.toString('base64url').slice(0, 16));
    expect(await checkSecretFingerprint(t.db, one, false)).toBe('same');
  });

  it('refuses another secret with a ConfigError naming TRAINYARD_SECRET and how to rotate it; the record stays', async () => {
    await expect(checkSecretFingerprint(t.db, two, false)).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/TRAINYARD_SECRET.*TRAINYARD_SECRET_ROTATE=true/s),
    });
    expect(await checkSecretFingerprint(t.db, one, false)).toBe('same');
  });

  it('a rotation replaces it; then the old secret is the one refused', async () => {
    expect(await checkSecretFingerprint(t.db, two, true)).toBe('rotated');
    expect(await checkSecretFingerprint(t.db, two, false)).toBe('same');
    await expect(checkSecretFingerprint(t.db, one, false)).rejects.toMatchObject({ name: 'ConfigError' });
  });
});
