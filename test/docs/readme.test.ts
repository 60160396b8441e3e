import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SETTINGS } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')
const reference = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Exactly once'))

t.test('the configuration reference names every setting, and no setting that does not exist', async (t) => {
  const settings = Object.keys(SETTINGS.shape)
  for (const name of settings) t.match(reference, `| \`${name}\` |`, `${name} has a row`)
  const named = new Set(reference.match(/QALQAN_[A-Z0-9_]+/g) ?? [])
  named.delete('QALQAN_CONFIG_FILE')
  // X_FILE gives setting X from a file (services/config.ts): a name the README may use for any setting.
  for (const name of named)
    t.ok(settings.includes(name.replace(/_FILE$/, '')) || settings.includes(name), `${name} in the README is a setting`)
})

t.test('the README names the two set-up commands that .ci/run and a new machine use', async (t) => {
  t.match(readme, /npm run local/)
  t.match(readme, /npm test/)
  const ci = readFileSync(join(PROJECT_ROOT, '.ci', 'run'), 'utf8')
  t.match(ci, /^npm test 2>&1/m, ".ci/run calls the README's test command")
})
