import { useEffect, useState } from 'react';
import { api, must } from '../../api/client';
import type { FileInfo } from '../../api/types';

const SHOWN = 12;

/**
 * The first images of an image dataset, each through its own signed, expiring URL
 * (GET /v1/files/{id}/content): the bytes come from the store, not through the API.
 */
export function Thumbnails({ ids, files }: { ids: string[]; files: Map<string, FileInfo> }) {
  const [urls, setUrls] = useState<{ id: string; url: string }[]>([]);
  const key = ids.slice(0, SHOWN).join(',');
  useEffect(() => {
    let live = true;
    const want = key ? key.split(',') : [];
    void Promise.all(
      want.map((id) =>
        must(api.GET('/v1/files/{id}/content', { params: { path: { id } } })).then(
          (c) => (c.content_type?.startsWith('image/') && c.url ? { id, url: c.url } : null),
          () => null,
        ),
      ),
    ).then((got) => live && setUrls(got.filter((g): g is { id: string; url: string } => g !== null)));
    return () => {
      live = false;
    };
  }, [key]);
  if (urls.length === 0) return null;
  return (
    <figure>
      <figcaption>
        {urls.length < ids.length ? `The first ${urls.length} of ${ids.length} images` : `${urls.length} image${urls.length === 1 ? '' : 's'}`}
      </figcaption>
      <div className="thumbs" data-testid="thumbnails">
        {urls.map((u) => (
          <img key={u.id} src={u.url} alt={files.get(u.id)?.filename ?? u.id} loading="lazy" />
        ))}
      </div>
    </figure>
  );
}
