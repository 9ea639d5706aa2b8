-- Fixture functions of every shape for the RPC tests, in schemas test_api and test_api_v2.
-- Applied as the superuser to a fresh database cloned from the migrated template.
create schema test_api;
create schema test_api_v2;
grant usage on schema test_api, test_api_v2 to web_anon, writer;

create table test_api.items (id int primary key, name text, score numeric, tags text[]);
insert into test_api.items values
  (1, 'alpha', 1.5, '{a}'), (2, 'beta', 2.5, '{b}'), (3, 'gamma', null, '{}'),
  (4, 'delta', 4.0, '{a,b}'), (5, 'epsilon', 5.25, null);
create table test_api.log (id serial primary key, v text, who text);
grant select on test_api.items to web_anon, writer;
grant select, insert on test_api.log to writer;
grant usage on sequence test_api.log_id_seq to writer;

create type test_api.pair as (a int, b text);

create function test_api.add(a int, b int default 10) returns int
  language sql immutable as $$ select a + b $$;
comment on function test_api.add(int, int) is 'Adds two numbers
The second one defaults to 10.';
create function test_api.hello(name text default 'world') returns text
  language sql stable as $$ select 'hello ' || name $$;
create function test_api.nothing_found() returns text
  language sql stable as $$ select null::text $$;
create function test_api.get_items(min_id int default 0)
  returns table(id int, name text, score numeric, tags text[])
  language sql stable as $$ select id, name, score, tags from test_api.items where id >= min_id order by id $$;
create function test_api.numbers(n int) returns setof int
  language sql immutable as $$ select generate_series(1, least(n, 1000)) $$;
create function test_api.item(item_id int) returns test_api.items
  language sql stable as $$ select * from test_api.items where id = item_id $$;
create function test_api.make_pair(a int, b text) returns test_api.pair
  language sql immutable as $$ select (a, b)::test_api.pair $$;
create function test_api.out_params(x int, out doubled int, out label text)
  language sql immutable as $$ select x * 2, 'x=' || x $$;
create function test_api.noop() returns void
  language sql volatile as $$ select $$;
create function test_api.sum_all(variadic vals int[]) returns int
  language sql immutable as $$ select coalesce(sum(v), 0)::int from unnest(vals) v $$;
create function test_api.over(a int) returns text language sql immutable as $$ select 'int' $$;
create function test_api.over(a text) returns text language sql immutable as $$ select 'text' $$;
create function test_api.over2(a int) returns text language sql immutable as $$ select 'a' $$;
create function test_api.over2(a int, b int) returns text
  language sql immutable as $$ select 'a,b' $$;
create function test_api.write_log(v text) returns int
  language sql volatile as $$ insert into test_api.log (v, who) values (v, current_user) returning id $$;
create function test_api.whoami() returns json language sql stable as $$
  select json_build_object(
    'current_user', current_user, 'role', current_setting('role'),
    'claims', current_setting('request.jwt.claims', true)::json,
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'headers', current_setting('request.headers', true)::json,
    'cookies', current_setting('request.cookies', true)::json,
    'read_only', current_setting('transaction_read_only'),
    'search_path', current_setting('search_path'),
    'statement_timeout', current_setting('statement_timeout'))
$$;
create function test_api.whoami_definer() returns json language sql stable security definer as $$
  select json_build_object('current_user', current_user, 'session_user', session_user,
                           'role', current_setting('role'),
                           'method', current_setting('request.method', true))
$$;
create function test_api.custom_response() returns json language plpgsql volatile as $$
begin
  perform set_config('response.headers', '[{"X-Custom": "yes"}, {"Cache-Control": "max-age=60"}]', true);
  perform set_config('response.status', '202', true);
  return '{"ok": true}'::json;
end $$;
create function test_api.sleepy(seconds float8) returns int language sql stable as $$
  select 1 from pg_sleep(seconds) $$;
create function test_api.raise_pt() returns int language plpgsql stable as $$
begin raise sqlstate 'PT402' using message = 'Payment required'; end $$;
create function test_api.raise_plain() returns int language plpgsql stable as $$
begin raise exception 'plain failure' using detail = 'some detail', hint = 'some hint'; end $$;
create function test_api.raise_pgrst() returns int language plpgsql stable as $$
begin raise sqlstate 'PGRST' using
  message = '{"code":"123","message":"Custom","details":"d","hint":"h"}',
  detail = '{"status":418,"headers":{"X-Teapot":"yes"}}';
end $$;
create function test_api.echo_json(json) returns json language sql immutable as $$ select $1 $$;
create function test_api.echo_text(text) returns text language sql immutable as $$ select $1 $$;
create function test_api.big_set(n int) returns table(i int, label text)
  language sql immutable rows 100000 as $$ select g, 'row ' || g from generate_series(1, n) g $$;
create function test_api.secret() returns text language sql stable as $$ select 'secret' $$;
create function test_api.typed(d date, ts timestamptz, flag boolean, amount numeric, ids int[])
  returns json language sql immutable as $$
  select json_build_object('d', d, 'ts', ts, 'flag', flag, 'amount', amount, 'ids', ids) $$;
create function test_api.csv_text() returns table(a text, b text) language sql immutable as $$
  values ('plain', 'with,comma'), ('with "quote"', null), (e'line\nbreak', 'x') $$;

create function test_api_v2.add(a int, b int default 10) returns int
  language sql immutable as $$ select a * b $$;
create function test_api_v2.v2_only() returns text language sql immutable as $$ select 'v2' $$;

-- a single OUT / INOUT parameter and a one-column table: objects, as in PostgREST
create function test_api.single_out(num int, out num_plus_one int)
  language sql immutable as $$ select num + 1 $$;
create function test_api.single_inout(inout num int)
  language sql immutable as $$ select num * 2 $$;
create function test_api.one_column(n int) returns table(x int)
  language sql immutable as $$ select generate_series(1, least(n, 1000)) $$;
-- PT503 on purpose; each run takes one more session-level advisory lock (7503, k), which
-- outlives the aborted transaction, so a test can count the runs in pg_locks. In v2, out
-- of the default profile's OpenAPI document (the fuzz test's), since its 503 is its point.
create function test_api_v2.unavailable_on_purpose() returns int language plpgsql stable as $$
begin
  perform pg_try_advisory_lock(7503, (select count(*)::int + 1 from pg_locks
                                      where locktype = 'advisory' and classid = 7503
                                        and objsubid = 2));
  raise sqlstate 'PT503' using message = 'come back later';
end $$;

do $$
declare f regprocedure;
begin
  for f in select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname in ('test_api', 'test_api_v2') and p.proname <> 'secret'
  loop
    execute format('revoke all on function %s from public', f);
    execute format('grant execute on function %s to web_anon, writer', f);
  end loop;
end $$;
revoke all on function test_api.secret() from public;

-- PGRST_DB_PRE_REQUEST in the tests: refuses requests carrying "X-Block".
create function test_api.pre_check() returns void language plpgsql stable as $$
begin
  if current_setting('request.headers', true)::json->>'x-block' is not null then
    raise sqlstate 'PT403' using message = 'blocked by pre-request';
  end if;
end $$;
grant execute on function test_api.pre_check() to web_anon, writer;
