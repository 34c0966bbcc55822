/**
 * ESLint for the JupyterLab extension's TypeScript (labextension/src) and the Galata tests
 * (ui-tests/tests), with the rules of JupyterLab's extension template. Formatting is
 * prettier's job (`jlpm prettier:check`), so eslint-config-prettier turns off every rule
 * that would argue with it; the template's own rules below (curly braces always) come after.
 */

import js from '@eslint/js';
import tsPlugin from '@typescript-eslint/eslint-plugin';
import tsParser from '@typescript-eslint/parser';
import prettier from 'eslint-config-prettier';

export default [
  {
    ignores: ['node_modules/', 'lib/', 'jupyter_dlbench/', '**/*.d.ts', 'ui-tests/node_modules/']
  },
  js.configs.recommended,
  ...tsPlugin.configs['flat/recommended'],
  prettier,
  {
    files: ['labextension/src/**/*.ts', 'ui-tests/tests/**/*.ts'],
    languageOptions: {
      parser: tsParser,
      sourceType: 'module'
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  }
];
