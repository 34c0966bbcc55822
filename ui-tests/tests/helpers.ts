/**
 * Page helpers for the DL Bench UI tests: open the sidebar, a notebook, the Run on GPU
 * dialog, and wait for runs. Tests drive the UI the way a user does (clicks, typing) and
 * use the REST API only to wait for background work.
 */

import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';

export const XSS_NAME = '<img src=x onerror=alert(1)>';
export const SNAPSHOTS = path.resolve(__dirname, '..', 'snapshots');

/** Fail the test if any script injected through a run name ever runs. */
export async function watchForInjection(page: IJupyterLabPageFixture): Promise<string[]> {
  const dialogs: string[] = [];
  page.on('dialog', async dialog => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  return dialogs;
}

export async function openSidebar(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('dlbench:open-sidebar');
  });
  const sidebar = page.locator('#dlbench-sidebar');
  await expect(sidebar).toBeVisible();
  return sidebar;
}

export function runRow(sidebar: Locator, text: string | RegExp): Locator {
  return sidebar.locator('.jp-DLBench-run', { hasText: text });
}

/** Open a notebook of the server root and wait for its Run on GPU button. */
export async function openNotebook(page: IJupyterLabPageFixture, file: string): Promise<Locator> {
  await page.evaluate(async file => {
    await window.jupyterapp.commands.execute('docmanager:open', { path: file });
  }, file);
  const button = page.locator('.jp-NotebookPanel-toolbar .jp-DLBench-runOnGpu').first();
  await expect(button).toBeVisible();
  return button;
}

/** Click Run on GPU and wait for the dialog to be filled from the parameters cell. */
export async function openRunDialog(page: IJupyterLabPageFixture, file: string): Promise<Locator> {
  const button = await openNotebook(page, file);
  await button.click();
  const dialog = page.locator('.jp-DLBench-runDialog');
  await expect(dialog.locator('input[name="param-lr"]')).toBeVisible();
  return dialog;
}

export async function fill(dialog: Locator, name: string, value: string): Promise<void> {
  await dialog.locator(`[name="${name}"]`).fill(value);
}

/** Wait, through the REST API, until `count` runs match and have all ended; return them. */
export async function waitForRuns(
  page: IJupyterLabPageFixture,
  where: string,
  count: number,
  timeoutMs = 150_000
): Promise<any[]> {
  let runs: any[] = [];
  await expect
    .poll(
      async () => {
        const response = await page.request.get(
          `/dlbench/api/runs?where=${encodeURIComponent(where)}&limit=50`
        );
        runs = (await response.json()).runs ?? [];
        return runs.filter(r => r.status !== 'running').length >= count
          ? 'ended'
          : `${runs.length} runs`;
      },
      { timeout: timeoutMs, intervals: [1000, 2000] }
    )
    .toBe('ended');
  return runs;
}
