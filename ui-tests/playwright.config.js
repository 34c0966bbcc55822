/**
 * Galata on Debian's Chromium (`/usr/bin/chromium`, or $CHROMIUM_PATH): Playwright's own
 * browser and ffmpeg downloads are not used, hence `video: 'off'`.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.DLBENCH_UI_PORT || '8897';

module.exports = {
  ...baseConfig,
  workers: 1,
  retries: 0,
  timeout: 120 * 1000,
  expect: { timeout: 15 * 1000 },
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    video: 'off',
    trace: 'off',
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // paint sandboxed (opaque-origin) frames in the page's process, so screenshots of
        // the run page include the report; the sandbox itself is unchanged
        '--disable-site-isolation-trials',
        '--disable-features=site-per-process,IsolateOrigins'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe'
  }
};
