import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      'trainers/python/**',
      'web/dist/**',
      'web/src/api/schema.d.ts',
      'clients/typescript/dist/**',
      'clients/typescript/src/schema.d.ts',
      '.venv-trainers/**',
      '.venv-fuzz/**',
      '.venv/**',
      '.venv-tools/**',
      '.venv-bench/**',
      '.venv-tracking/**',
      '.venv-clients/**',
      '.mypy_cache/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error', 'warn'] }],
      eqeqeq: ['error', 'smart'],
    },
  },
  { files: ['bench/**', 'src/main.ts', 'src/cli/**'], rules: { 'no-console': 'off' } },
  // The dashboard runs in the browser.
  { files: ['web/src/**'], languageOptions: { globals: { ...globals.browser } } },
  // Tests read untyped JSON responses; typing every body would only restate the assertions.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
