/**
 * The DL Bench settings (Settings Editor → DL Bench) preselect the Run on GPU dialog.
 * Galata serves these settings from the page, so nothing is written to the user's disk.
 */

import { expect, galata, test } from '@jupyterlab/galata';

import { openRunDialog } from './helpers';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-dlbench:plugin': {
      defaultExecutor: 'ray',
      rayAddress: 'ray://head:10001',
      gpusPerRun: 0.5
    }
  }
});

test('the default executor, Ray address and GPUs per run come from the settings', async ({
  page
}) => {
  const dialog = await openRunDialog(page, 'train_digits.ipynb');
  await expect(dialog.locator('[name="executor"]')).toHaveValue('ray');
  await expect(dialog.locator('[name="ray_address"]')).toBeVisible();
  await expect(dialog.locator('[name="ray_address"]')).toHaveValue('ray://head:10001');
  await expect(dialog.locator('[name="gpus"]')).toHaveValue('0.5');

  // switching to local hides the Ray address again
  await dialog.locator('[name="executor"]').selectOption('local');
  await expect(dialog.locator('[name="ray_address"]')).toBeHidden();
  await dialog.locator('.jp-mod-reject').click();
  await expect(dialog).toBeHidden();
});
