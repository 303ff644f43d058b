/**
 * Builds the browser console into dist/console/. The double serves index.html at `/` and the assets at
 * `/console/app/<file>`, hence `base`. No plugin-react: Vite's own transform (oxc) compiles the JSX.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * slack-blocks-to-jsx scopes its stylesheet under `#slack_blocks_to_jsx`, an id it gives every rendered
 * message (so a channel would hold it many times). Its root element also carries the class of that name:
 * scope the rules by the class, and the console drops the repeated id (see block-kit.tsx). `:is()` keeps an
 * id's specificity, which the stylesheet relies on (its utilities must beat its own element resets).
 */
const scopeSlackBlocksCss = (): Plugin => ({
  name: 'scope-slack-blocks-css',
  enforce: 'pre',
  transform(code, id) {
    if (!id.replaceAll('\\', '/').includes('slack-blocks-to-jsx/dist/style.css')) return null;
    return {
      code: code.replaceAll('#slack_blocks_to_jsx', ':is(.slack_blocks_to_jsx,#slack_blocks_to_jsx)'),
      map: null,
    };
  },
});

export default defineConfig({
  root,
  base: '/console/app/',
  publicDir: false,
  plugins: [scopeSlackBlocksCss()],
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: '',
    assetsInlineLimit: 0,
    // One bundle, served locally: react-markdown and node-emoji (the library's) make it ~1.2 MB.
    chunkSizeWarningLimit: 1500,
  },
  server: { port: 5174, strictPort: true },
});
