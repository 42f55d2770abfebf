import { describe, expect, it } from 'vitest';
import { CLIENT_COMMANDS } from '../../src/cli/client/commands.js';
import { buildProgram } from '../../src/cli/client/index.js';
import { parseKeyValues } from '../../src/cli/client/catalog.js';
import { jobBody } from '../../src/cli/client/jobs.js';
import { bar, sparkline } from '../../src/cli/client/watch.js';

// The client's pure parts; test/clients/cli.test.ts runs the binary against a real server.
describe('the command-line client', () => {
  it('main.ts routes exactly the commands the client defines', () => {
    expect(new Set(buildProgram().commands.map((c) => c.name()))).toEqual(CLIENT_COMMANDS);
  });

  it('draws the loss as unicode blocks between its min and max, and a bar by fraction', () => {
    expect(sparkline([4, 3, 2, 1])).toBe('█▆▃▁');
    expect(sparkline([1, 1])).toBe('▄▄');
    expect(
      sparkline(
        Array.from({ length: 100 }, (_, i) => i),
        40,
      ),
    ).toHaveLength(40);
    expect(bar(0.5, 10)).toBe('█████░░░░░');
    expect(bar(2, 4)).toBe('████');
  });

  it('reads key=value flags as JSON where they parse, else as strings', () => {
    expect(parseKeyValues(['epochs=20', 'lr=0.1', 'name=abc', 'on=true', 'eq=a=b'])).toEqual({ epochs: 20, lr: 0.1, name: 'abc', on: true, eq: 'a=b' });
    expect(() => parseKeyValues(['nokey'])).toThrow(/key=value/);
  });

  it('builds the job from flags alone, and says which is missing', async () => {
    expect(await jobBody({ trainer: 'linear-classifier', dataset: 'eeg', model: 'm', hp: ['epochs=3'] })).toEqual({
      trainer: 'linear-classifier',
      dataset_id: 'eeg',
      output: { model_name: 'm' },
      hyperparameters: { epochs: 3 },
    });
    await expect(jobBody({ trainer: 'x', dataset: 'd' })).rejects.toThrow(/--model/);
  });
});
