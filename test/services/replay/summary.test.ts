import t from 'tap'
import { formatSummary, Tally } from '../../../services/replay/summary.js'

t.test('the summary for a person names the events left out as already stored', async (t) => {
  const checked = new Tally(false, true)
  checked.read = 5
  checked.matched = 4
  checked.replayed = 1
  checked.alreadyStored = 3
  const text = formatSummary(checked.summary())
  t.match(text, /^ {2}replayed as events +1$/m)
  t.match(text, /^ {2}already stored +3$/m)
  t.notMatch(text, 'not checked')

  const unchecked = formatSummary(new Tally(true, false).summary())
  t.match(unchecked, 'replay-rejected: dry run, nothing was produced')
  t.match(unchecked, /^ {2}already stored +0 {2}\(not checked: --no-check-stored\)$/m)
})
