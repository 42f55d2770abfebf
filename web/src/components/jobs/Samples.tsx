import type { Ok } from '../../api/types';

type Sample = NonNullable<Ok<'/v1/jobs/{id}/samples', 'get'>['data']>[number];

/** Images the trainer made along the way (GET /v1/jobs/{id}/samples), with their prompts. */
export function Samples({ samples }: { samples: Sample[] }) {
  return (
    <div className="thumbs samples">
      {samples.map((s) => (
        <figure key={s.n}>
          <img src={s.url} alt={`Sample ${s.n} at step ${s.step}: ${s.prompt}`} width={160} height={160} loading="lazy" />
          <figcaption>
            #{s.n} · step {s.step}
            <br />
            {s.prompt}
          </figcaption>
        </figure>
      ))}
    </div>
  );
}
