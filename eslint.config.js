// Lints the service, its scripts, its tests and the landing page's script.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  // assembly/ is AssemblyScript, which its own compiler checks.
  { ignores: ['dist/', 'node_modules/', '.tap/', 'bench-data/', 'coverage/', '.tools/', 'assembly/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['public/**/*.js'],
    languageOptions: { globals: globals.browser, sourceType: 'module' }
  },
  {
    files: ['**/*.ts', 'eslint.config.js', 'scripts/**/*.mjs'],
    languageOptions: { globals: globals.node }
  }
)
