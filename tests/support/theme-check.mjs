// Shopify's theme linter (@shopify/theme-check-node, the engine of `shopify theme check`)
// over a theme app extension, with Shopify's own theme-app-extension configuration.
// Prints every offense as one JSON line; exits 1 if any is an error or a warning.
// Usage: node tests/support/theme-check.mjs extensions/<extension>
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { themeCheckRun } from '@shopify/theme-check-node';

const root = path.resolve(process.argv[2] ?? 'extensions/backorder-badge');
const config = path.join(path.dirname(fileURLToPath(import.meta.url)), 'theme-check.yml');
const { offenses, theme } = await themeCheckRun(root, config);
const SEVERITY = ['error', 'warning', 'info'];
for (const offense of offenses) {
  console.log(JSON.stringify({
    check: offense.check, severity: SEVERITY[offense.severity] ?? offense.severity,
    file: path.relative(root, fileURLToPath(offense.uri)), line: offense.start.line + 1,
    message: offense.message,
  }));
}
console.error(`theme-check: ${theme.length} files, ${offenses.length} offenses`);
process.exit(offenses.some((o) => o.severity <= 1) ? 1 : 0);
