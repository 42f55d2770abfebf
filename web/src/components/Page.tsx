import { useEffect, useRef, type ReactNode } from 'react';

/**
 * Every page: one <h1>, the document title, and focus on the heading when the route changes,
 * so keyboard and screen-reader users land on the new page rather than on the old link.
 */
export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Trainyard`;
    h.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <h1 id="page-title" ref={h} tabIndex={-1}>
          {title}
        </h1>
        {actions && <div className="row">{actions}</div>}
      </header>
      {children}
    </section>
  );
}
