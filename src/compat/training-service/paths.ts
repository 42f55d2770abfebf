import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../../errors.js';

/** The file POST /train uses when the request names none (the document's curl example). */
export const DEFAULT_DATASET = 'sample_training_data.jsonl';

const inside = (root: string, p: string) => {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * A training_data_path as the document writes it, resolved to a file inside the data root:
 * `/app/training_data/x.jsonl` (the prefix is the root's mount point in the document's
 * deployment), a path relative to the root, or an absolute path that is already inside it.
 * `..` segments, absolute paths elsewhere and symlinks that lead out of the root are refused
 * (400), checked on the real path so a link cannot smuggle a file in.
 */
export async function resolveDataPath(root: string, prefix: string, given: string | undefined): Promise<{ file: string; shown: string }> {
  if (given === undefined || given === '') {
    const file = path.join(root, DEFAULT_DATASET);
    const ok = await stat(file).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!ok)
      throw new ValidationError(
        'TRAINING_DATA_REQUIRED',
        `no training_data_path given and the data root has no ${DEFAULT_DATASET}; send training_data_path, or POST /create-sample-data first`,
      );
    return resolveDataPath(root, prefix, `${prefix}/${DEFAULT_DATASET}`);
  }
  let rel: string;
  if (given === prefix || given.startsWith(`${prefix}/`)) rel = given.slice(prefix.length);
  else if (path.isAbsolute(given)) {
    if (!inside(root, path.resolve(given)))
      throw new ValidationError('PATH_OUTSIDE_DATA_ROOT', 'training_data_path is an absolute path outside the training data root');
    rel = path.relative(root, path.resolve(given));
  } else rel = given;
  if (rel.split(/[\\/]+/).includes('..')) throw new ValidationError('PATH_TRAVERSAL', 'training_data_path must not contain ".." segments');
  const file = path.resolve(root, `.${path.sep}${rel}`);
  if (!inside(root, file)) throw new ValidationError('PATH_OUTSIDE_DATA_ROOT', 'training_data_path names no file inside the training data root');
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    throw new ValidationError('TRAINING_DATA_NOT_FOUND', 'training_data_path names no file in the training data root');
  }
  if (!inside(await realpath(root), real))
    throw new ValidationError('PATH_OUTSIDE_DATA_ROOT', 'training_data_path leads out of the training data root (through a symbolic link)');
  if (!(await stat(real)).isFile()) throw new ValidationError('TRAINING_DATA_NOT_A_FILE', 'training_data_path names a folder, not a file');
  return { file: real, shown: `${prefix}/${path.relative(root, file).split(path.sep).join('/')}` };
}
