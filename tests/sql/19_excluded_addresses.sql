-- Excluded addresses: anyone reads, writer edits, every change audited with sub and role.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(15);

SELECT tests.authenticate_as('writer', 'alice');
SELECT lives_ok($$ SELECT api.add_excluded_address('manifest1aaa') $$, 'writer adds an address');
SELECT lives_ok($$ SELECT api.add_excluded_address('  manifest1bbb ') $$, 'surrounding blanks are removed');
SELECT throws_ok($$ SELECT api.add_excluded_address('manifest1aaa') $$, '23505',
                 'address manifest1aaa is already excluded', 'a duplicate is a conflict (23505, HTTP 409)');
SELECT throws_ok($$ SELECT api.add_excluded_address('   ') $$, '22023', NULL, 'a blank address is refused (22023)');
SELECT throws_ok($$ SELECT api.add_excluded_address(NULL) $$, '22023', NULL, 'a NULL address is refused (22023)');
SELECT results_eq($$ SELECT value FROM api.get_excluded_addresses() $$,
                  $$ VALUES ('manifest1aaa'), ('manifest1bbb') $$, 'the list, in the order added');

SELECT tests.authenticate_as('writer', 'bob');
SELECT lives_ok($$ SELECT api.rm_excluded_address('manifest1aaa') $$, 'writer removes an address');
SELECT throws_ok($$ SELECT api.rm_excluded_address('manifest1aaa') $$, 'PT404', NULL,
                 'removing an address not in the list: PT404 (HTTP 404)');
SELECT throws_ok($$ SELECT api.rm_excluded_address('') $$, '22023', NULL, 'removing a blank address is refused');
SELECT tests.clear_authentication();

SELECT results_eq($$ SELECT action, value, sub, role FROM metrics.excluded_addresses_audit ORDER BY id $$,
    $$ VALUES ('add', 'manifest1aaa', 'alice', 'writer'), ('add', 'manifest1bbb', 'alice', 'writer'),
              ('remove', 'manifest1aaa', 'bob', 'writer') $$,
    'every change is audited with the JWT sub and role; failed calls leave no trace');
SELECT ok((SELECT bool_and(changed_at = now()) FROM metrics.excluded_addresses_audit), 'audit rows say when');

-- Changes made behind the API's back are audited too.
DELETE FROM metrics.excluded_addresses WHERE value = 'manifest1bbb';
SELECT results_eq($$ SELECT action, value, sub, role FROM metrics.excluded_addresses_audit ORDER BY id DESC LIMIT 1 $$,
    $$ VALUES ('remove', 'manifest1bbb', NULL::text, 'postgres') $$, 'a psql change is audited with the session role');

SELECT tests.authenticate_as('web_anon');
SELECT lives_ok($$ SELECT * FROM api.get_excluded_addresses() $$, 'web_anon reads the list');
SELECT throws_ok($$ SELECT api.add_excluded_address('manifest1ccc') $$, '42501', NULL, 'web_anon cannot add');
SELECT throws_ok($$ SELECT api.rm_excluded_address('manifest1bbb') $$, '42501', NULL, 'web_anon cannot remove');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
