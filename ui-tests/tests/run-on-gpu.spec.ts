/**
 * The main user path: Run on GPU from a notebook's toolbar, the run in the sidebar, its
 * run page; a two-value sweep from the same dialog; bad values explained in place.
 * The server runs `examples/` copies with two logical GPUs (see ../start_server.py).
 */

import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { fill, openNotebook, openRunDialog, openSidebar, SNAPSHOTS, waitForRuns } from './helpers';

const NOTEBOOK = 'train_digits.ipynb';

test.describe.configure({ mode: 'serial' });

test('Run on GPU with an overridden lr runs the notebook, and its run page charts the metrics', async ({
  page
}) => {
  const dialog = await openRunDialog(page, NOTEBOOK);
  // pre-filled from the notebook's parameters cell, with the defaults' types
  await expect(dialog.locator('[name="param-lr"]')).toHaveValue('0.01');
  await expect(dialog.locator('[name="param-epochs"]')).toHaveValue('10');
  await expect(dialog.locator('[data-field="param-epochs"] .jp-DLBench-type')).toHaveText('int');
  await expect(dialog.locator('[name="executor"]')).toHaveValue('local');

  await fill(dialog, 'param-lr', '0.05');
  await fill(dialog, 'param-epochs', '2');
  await fill(dialog, 'gpus', '1');
  await fill(dialog, 'name', 'lr-override');
  await dialog
    .locator('.jp-Dialog-content')
    .screenshot({ path: path.join(SNAPSHOTS, 'run-dialog.png') });
  await dialog.locator('.jp-DLBench-submit').click();
  await expect(dialog).toBeHidden();

  // the sidebar opens on the new job, which gets one of the two logical GPUs
  const sidebar = page.locator('#dlbench-sidebar');
  await expect(sidebar).toBeVisible();
  const job = sidebar.locator('.jp-DLBench-job', { hasText: 'lr-override' });
  await expect(job).toBeVisible();
  await expect(job.locator('.jp-DLBench-jobGpu')).toContainText(/local · (GPU [01]|needs 1 GPU)/);

  // the run shows up with its params and reaches finished
  const row = sidebar.locator('.jp-DLBench-run', { hasText: 'lr-override' });
  await expect(row.locator('.jp-DLBench-status')).toHaveText('finished', { timeout: 100_000 });
  await expect(row.locator('.jp-DLBench-runParams')).toHaveAttribute('title', /epochs=2/);
  await expect(row.locator('.jp-DLBench-runParams')).toHaveAttribute('title', /lr=0\.05/);
  await expect(row.locator('.jp-DLBench-runMetrics')).toContainText('loss=');
  await expect(row.locator('.jp-DLBench-sparkline polyline')).toHaveCount(1);

  await row.click();
  const runPage = page.locator('.jp-DLBench-runPage');
  await expect(runPage.locator('.jp-DLBench-runHeader .jp-DLBench-status')).toHaveText('finished');
  await expect(runPage.locator('.jp-DLBench-table')).toContainText('lr');
  await expect(runPage.locator('.jp-DLBench-table')).toContainText('0.05');
  const loss = runPage.locator('.jp-DLBench-chart[data-metric="loss"]');
  await expect(loss.locator('polyline')).toHaveCount(1);
  await expect(loss.locator('.jp-DLBench-chartNote')).toContainText('2 points');
  await expect(runPage.locator('.jp-DLBench-chart[data-metric="val_acc"]')).toBeVisible();
  // the output notebook and the checkpoint are downloadable artifacts
  await expect(
    runPage.locator('.jp-DLBench-artifactLink', { hasText: 'model.pt' })
  ).toHaveAttribute('href', /\/dlbench\/api\/runs\/.+\/artifacts\/model\.pt/);
  // the report, in a sandboxed frame that loads it by URL (so its CSP header applies)
  const report = runPage.locator('.jp-DLBench-reportFrame');
  await expect(report).toHaveAttribute('sandbox', 'allow-scripts');
  await expect(report).toHaveAttribute('src', /\/dlbench\/api\/runs\/.+\/report/);
  const reportBody = page.frameLocator('.jp-DLBench-reportFrame');
  await expect(reportBody.locator('h1')).toContainText('Run lr-override');
  await expect(reportBody.getByRole('cell', { name: '0.05', exact: true })).toBeVisible();
  await page
    .locator('.jp-DLBench-runPage')
    .screenshot({ path: path.join(SNAPSHOTS, 'run-page.png') });
  await runPage.locator('.jp-DLBench-report').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SNAPSHOTS, 'run-report.png') });

  // the executed notebook opens in JupyterLab: its header cell names the run and its params
  await runPage.locator('.jp-DLBench-openNotebook').click();
  const output = page.getByRole('tabpanel', { name: 'output.ipynb' });
  await expect(output).toContainText('jupyter-dlbench run');
  await expect(output.getByRole('row', { name: 'lr 0.05' })).toBeVisible();
});

test('a two-value sweep from the dialog says it makes two runs, and makes them', async ({
  page
}) => {
  const dialog = await openRunDialog(page, NOTEBOOK);
  await fill(dialog, 'param-epochs', '1');
  await fill(dialog, 'gpus', '0.5');
  await fill(dialog, 'sweep', 'lr=0.031,0.032');
  await expect(dialog.locator('.jp-DLBench-sweepPreview')).toHaveText('Expands to 2 runs.');
  await dialog.locator('.jp-DLBench-submit').click();
  await expect(dialog).toBeHidden();

  const runs = await waitForRuns(page, 'params.lr > 0.03 and params.lr < 0.033', 2);
  expect(runs.map(r => r.params.lr).sort()).toEqual([0.031, 0.032]);
  expect(runs.every(r => r.status === 'finished')).toBe(true);
  const sidebar = page.locator('#dlbench-sidebar');
  for (const lr of ['lr=0.031', 'lr=0.032']) {
    const row = sidebar.locator('.jp-DLBench-run', { hasText: lr });
    await expect(row.locator('.jp-DLBench-status')).toHaveText('finished');
    // one epoch, one point: the sparkline shows it as a dot
    await expect(row.locator('.jp-DLBench-sparkline circle')).toHaveCount(1);
  }
});

test('bad values are explained next to their field and nothing is submitted', async ({ page }) => {
  const dialog = await openRunDialog(page, NOTEBOOK);
  const jobsBefore = (await (await page.request.get('/dlbench/api/jobs')).json()).total;

  await fill(dialog, 'gpus', '0.3');
  await fill(dialog, 'param-epochs', 'two');
  await dialog.locator('.jp-DLBench-submit').click();
  await expect(dialog.locator('[data-field="gpus"] .jp-DLBench-fieldError')).toContainText(
    'must divide it evenly'
  );
  await expect(dialog.locator('[data-field="param-epochs"] .jp-DLBench-fieldError')).toContainText(
    'epochs expects a whole number'
  );

  // the server's own check: a sweep over a parameter the notebook does not have
  await fill(dialog, 'gpus', '1');
  await fill(dialog, 'param-epochs', '1');
  await fill(dialog, 'sweep', 'nonexistent=1,2');
  await expect(dialog.locator('[data-field="sweep"] .jp-DLBench-fieldError')).toContainText(
    'nonexistent'
  );
  await dialog.locator('.jp-DLBench-submit').click();
  await expect(dialog.locator('[data-field="sweep"] .jp-DLBench-fieldError')).toContainText(
    'nonexistent'
  );
  await expect(dialog).toBeVisible();

  await dialog.locator('.jp-mod-reject').click();
  await expect(dialog).toBeHidden();
  const jobsAfter = (await (await page.request.get('/dlbench/api/jobs')).json()).total;
  expect(jobsAfter).toBe(jobsBefore);
});

test('Rerun from the run page queues the same job again, and Cancel in the sidebar stops it', async ({
  page
}) => {
  const sidebar = await openSidebar(page);
  await sidebar.locator('.jp-DLBench-run', { hasText: 'lr-override' }).first().click();
  const runPage = page.locator('.jp-DLBench-runPage');
  await expect(runPage.locator('.jp-DLBench-runTitle')).toHaveText('lr-override');

  // Rerun with changes: the dialog comes pre-filled with the run's values
  await runPage.locator('.jp-DLBench-rerunChanges').click();
  const dialog = page.locator('.jp-DLBench-runDialog');
  await expect(dialog.locator('.jp-Dialog-header')).toContainText('Rerun lr-override with changes');
  await expect(dialog.locator('[name="param-lr"]')).toHaveValue('0.05');
  await expect(dialog.locator('[name="param-epochs"]')).toHaveValue('2');
  await dialog.locator('.jp-mod-reject').click();
  await expect(dialog).toBeHidden();

  await runPage.locator('.jp-DLBench-rerun').click();
  const active = sidebar.locator('.jp-DLBench-job', {
    hasText: 'lr-override',
    has: page.locator('.jp-DLBench-cancel')
  });
  await expect(active).toHaveCount(1);
  const jobId = await active.getAttribute('data-job-id');
  await active.locator('.jp-DLBench-cancel').click();
  const job = sidebar.locator(`.jp-DLBench-job[data-job-id="${jobId}"]`);
  await expect(job.locator('.jp-DLBench-status')).toHaveText('cancelled', { timeout: 60_000 });
  await expect(job.locator('.jp-DLBench-cancel')).toHaveCount(0);

  // its log opens in the main area and says how it ended
  await job.locator('.jp-DLBench-openLog').click();
  const log = page.locator('.jp-DLBench-jobLog').last();
  await expect(log.locator('.jp-DLBench-message')).toHaveText(
    'The job has ended; this is its whole log.'
  );
});

test('unsaved edits to the parameters cell are saved first and fill the dialog', async ({
  page,
  tmpPath
}) => {
  const source = fs.readFileSync(
    path.resolve(__dirname, '..', '..', 'examples', NOTEBOOK),
    'utf-8'
  );
  await page.contents.uploadContent(source, 'text', `${tmpPath}/edited.ipynb`);
  await openNotebook(page, `${tmpPath}/edited.ipynb`);
  await page.notebook.setCell(2, 'code', 'lr = 0.2\nepochs = 3  # edited, not saved\nflag = True');
  await expect(
    page.locator('.jp-NotebookPanel .jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty').first()
  ).toBeVisible();

  await page.locator('.jp-NotebookPanel-toolbar .jp-DLBench-runOnGpu').first().click();
  const dialog = page.locator('.jp-DLBench-runDialog');
  await expect(dialog.locator('[name="param-epochs"]')).toHaveValue('3');
  await expect(dialog.locator('[name="param-lr"]')).toHaveValue('0.2');
  await expect(dialog.locator('[name="param-flag"]')).toBeChecked();
  await expect(dialog).toContainText('Your unsaved changes were saved first');
  await expect(dialog.locator('[data-field="param-epochs"] .jp-DLBench-hint')).toHaveText(
    'edited, not saved'
  );
  await dialog.locator('.jp-mod-reject').click();
  await expect(page.locator('.lm-TabBar-tab.jp-mod-dirty')).toHaveCount(0);
});
