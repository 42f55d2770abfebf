import type { Dataset } from '../../api/types';
import { Badge } from '../ui';
import { statusLabel } from './model';

/** A dataset's status as people read it: validating, ready or invalid (the API's processing, ready, error). */
export function DatasetBadge({ status }: { status: Dataset['status'] | undefined }) {
  return <Badge status={statusLabel(status)} />;
}
