import type { ReactNode } from 'react';

/**
 * A table that scrolls sideways on a narrow screen: a named region keyboard users can focus
 * and scroll with the arrow keys (a scrolling box with nothing focusable in it is otherwise
 * out of their reach).
 */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
