import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is served by the API process itself (src/app/routes/dashboard.ts) from
// web/dist: same origin, so it calls /v1 with relative URLs and needs no CORS. `npm run dev -w
// web` proxies the API to a server on :8080 for hot reloading.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed file names under /assets: the server caches them for a year, index.html never.
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: Object.fromEntries(['/v1', '/openapi.json', '/healthz', '/readyz', '/blobs'].map((p) => [p, 'http://127.0.0.1:8080'])),
  },
});
