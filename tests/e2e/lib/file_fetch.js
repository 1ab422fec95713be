// icebird reads tables through fetch, and a table's location is a file:// URI: this makes
// fetch answer file:// URLs from the disk (404 for a missing file), other URLs as usual.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let installed = false;

export function serveFileUrls() {
  if (installed) return;
  installed = true;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => {
    const u = String(url);
    if (!u.startsWith('file://')) return realFetch(url, init);
    try {
      return new Response(readFileSync(fileURLToPath(u)), { status: 200 });
    } catch {
      return new Response('not found', { status: 404, statusText: 'Not Found' });
    }
  };
}
