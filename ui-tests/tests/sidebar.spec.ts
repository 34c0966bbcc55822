/**
 * The DL Bench sidebar and run page with a run whose name is an HTML injection: it must
 * be shown as the literal text, never parsed (no <img>, no script run).
 */

import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { openSidebar, SNAPSHOTS, watchForInjection, XSS_NAME } from './helpers';

test('the sidebar shows runs, jobs and datasets, with an HTML-like run name as plain text', async ({
  page
}) => {
  const dialogs = await watchForInjection(page);
  const sidebar = await openSidebar(page);
  for (const section of ['Runs', 'Jobs', 'Datasets']) {
    await expect(sidebar.locator(`.jp-DLBench-section[aria-label="${section}"]`)).toBeVisible();
  }
  const row = sidebar.locator('.jp-DLBench-run', { hasText: XSS_NAME });
  await expect(row.locator('.jp-DLBench-runName')).toHaveText(XSS_NAME);
  await expect(row.locator('.jp-DLBench-runParams')).toContainText('note=<b>bold</b>');
  await expect(row.locator('.jp-DLBench-status')).toHaveText('finished');
  await expect(row.locator('.jp-DLBench-sparkline polyline')).toHaveCount(1);
  await expect(sidebar.locator('img')).toHaveCount(0);
  await expect(sidebar.locator('b')).toHaveCount(0);

  // the filter box narrows the list, as text and through the server's where filter
  const filter = sidebar.locator('.jp-DLBench-filter');
  await filter.fill('onerror');
  await expect(sidebar.locator('.jp-DLBench-run')).toHaveCount(1);
  await filter.fill('params.lr = 0.5');
  await expect(sidebar.locator('.jp-DLBench-run')).toHaveCount(1);
  await filter.fill('params.lr <');
  await expect(sidebar.locator('.jp-DLBench-runs .jp-DLBench-message')).toHaveClass(/jp-mod-error/);
  await filter.fill('');
  await expect(row).toBeVisible();
  await expect(sidebar.locator('.jp-DLBench-runs .jp-DLBench-message')).not.toHaveClass(
    /jp-mod-error/
  );
  // rows that come back after filtering keep their sparkline
  await expect(row.locator('.jp-DLBench-sparkline polyline')).toHaveCount(1);

  // datasets: a name opens its versions, with size, file count, message and the runs
  const datasets = sidebar.locator('.jp-DLBench-datasets');
  await datasets.locator('.jp-DLBench-datasetName', { hasText: 'toy' }).click();
  const version = datasets.locator('.jp-DLBench-version[data-version="v1"]');
  await expect(version.locator('.jp-DLBench-versionFacts')).toContainText('2 files');
  await expect(version.locator('.jp-DLBench-versionMessage')).toHaveText(
    '<script>alert(2)</script> first cut'
  );
  await expect(version.locator('.jp-DLBench-runLink')).toHaveText(`${XSS_NAME} (made it)`);
  await expect(sidebar.locator('script')).toHaveCount(0);

  await sidebar.screenshot({ path: path.join(SNAPSHOTS, 'sidebar.png') });
  expect(dialogs).toEqual([]);
});

test('the run page of that run shows its name, params and chart as text', async ({ page }) => {
  const dialogs = await watchForInjection(page);
  const sidebar = await openSidebar(page);
  await sidebar.locator('.jp-DLBench-run', { hasText: XSS_NAME }).click();
  const runPage = page.locator('.jp-DLBench-runPage');
  await expect(runPage.locator('.jp-DLBench-runTitle')).toHaveText(XSS_NAME);
  await expect(runPage.locator('.jp-DLBench-table')).toContainText('<b>bold</b>');
  await expect(runPage.locator('.jp-DLBench-chart[data-metric="loss"] polyline')).toHaveCount(1);
  await expect(runPage.locator('img')).toHaveCount(0);
  // lineage: the dataset version it committed, then its files
  await expect(runPage.locator('.jp-DLBench-lineageColumn', { hasText: 'Outputs' })).toContainText(
    'toy @ v1'
  );
  await expect(page.locator('.lm-TabBar-tab', { hasText: `Run: ${XSS_NAME}` })).toBeVisible();
  await expect(page.locator('img[src="x"]')).toHaveCount(0);

  // the run page survives a reload, like any JupyterLab tab. JupyterLab saves the layout a
  // moment after it changes: reload once it names the page, without waiting for galata's
  // file browser tab, which the restored layout keeps hidden
  await expect
    .poll(() =>
      page.evaluate(async () =>
        (await (await fetch('/lab/api/workspaces/default')).text()).includes('dlbench-run:')
      )
    )
    .toBe(true);
  await page.reload({ waitForIsReady: false });
  await expect(page.locator('.jp-DLBench-runPage .jp-DLBench-runTitle')).toHaveText(XSS_NAME);
  expect(dialogs).toEqual([]);
});
