// postgrest-js, unchanged, against a running metrics-rpc: each call's outcome as one JSON
// object on stdout, for tests/api/test_postgrest_js.py to check.
// Usage: node calls.mjs <base url> <writer token>
import { PostgrestClient } from '@supabase/postgrest-js'

const [base, token] = process.argv.slice(2)
const anon = new PostgrestClient(base, { schema: 'test' })
const writer = new PostgrestClient(base, {
  schema: 'test', headers: { Authorization: `Bearer ${token}` },
})

const outcome = ({ data, error, count, status }) => ({ data, error, count, status })
const calls = {
  scalar: anon.rpc('add_them', { a: 1, b: 2 }),
  scalar_get: anon.rpc('add_them', { a: 1, b: 2 }, { get: true }),
  set_filtered: anon.rpc('getitemrange', { min: 2, max: 5 }, { get: true })
    .select('id').gt('id', 3).order('id', { ascending: false }),
  count_head: anon.rpc('getitemrange', { min: 0, max: 15 }, { count: 'exact', head: true }),
  count_range: anon.rpc('getitemrange', { min: 0, max: 15 }, { count: 'exact' }).range(2, 3),
  single: anon.rpc('getallprojects').eq('id', 2).single(),
  maybe_single_none: anon.rpc('getallprojects').eq('id', 99).maybeSingle(),
  one_column_table: anon.rpc('single_column_table_return').eq('a', 'A'),
  setof_record: anon.rpc('returns_setof_record'),
  composite_domain: anon.rpc('ret_composite_domain'),
  csv: anon.rpc('getitemrange', { min: 2, max: 4 }).csv(),
  unknown: anon.rpc('fakefunc'),
  raised: anon.rpc('raise_pt402'),
  denied: anon.rpc('privileged_hello', { name: 'x' }),
  writer: writer.rpc('privileged_hello', { name: 'jdoe' }),
  rollback: anon.rpc('callcounter').rollback(),
}
const results = {}
for (const [name, call] of Object.entries(calls)) {
  results[name] = outcome(await call)
}
console.log(JSON.stringify(results))
