-- Our own fixture for the PostgREST spec ports (tests/api/postgrest_spec/): functions of the
-- same names and shapes as the ones PostgREST's spec calls (test/spec/fixtures/schema.sql),
-- written here from their described behaviour, in schema "test" so error wording matches.
-- Applied as the superuser to a fresh database cloned from the migrated template.
create schema test;
grant usage on schema test to web_anon, writer;

create table test.items (id bigint primary key);
insert into test.items select generate_series(1, 15);
create table test.projects (id int primary key, name text, client_id int);
insert into test.projects values
  (1, 'Windows 7', 1), (2, 'Windows 10', 1), (3, 'IOS', 2), (4, 'OSX', 2), (5, 'Orphan', null);
create table test.articles (id int primary key, body text);
insert into test.articles values (1, 'first'), (2, 'second');
create table test.bitchar_with_length (
  "char" char(5), char_arr char(5)[], bit bit(5), bit_arr bit(5)[]
);
create table test.deferrable_unique_constraint (col int unique deferrable initially immediate);
create sequence test.callcounter_count;
grant select on test.items, test.projects, test.articles, test.deferrable_unique_constraint
  to web_anon, writer;
grant select, update on test.projects to web_anon, writer;
grant insert on test.bitchar_with_length, test.deferrable_unique_constraint to web_anon, writer;
grant usage, select, update on sequence test.callcounter_count to web_anon, writer;

create type test.enum_menagerie_type as enum ('foo', 'bar');
create domain test.one_nine as int check (value >= 1 and value <= 9);
create type test.point_2d as (x integer, y integer);
create domain test.composite_domain as test.point_2d;

-- sets and ranges
create function test.getitemrange(min bigint, max bigint) returns setof test.items
  language sql stable as $$ select * from test.items where id > min and id <= max order by id $$;
create function test.search(id bigint) returns setof test.items
  language sql stable as $$ select * from test.items where items.id = search.id $$;
create function test.getproject(id int) returns setof test.projects
  language sql stable as $$ select * from test.projects where projects.id = getproject.id $$;
create function test.getallprojects() returns setof test.projects
  language sql stable as $$ select * from test.projects order by id $$;
create function test.get_projects_below(id int) returns setof test.projects
  language sql stable as $$ select * from test.projects where projects.id < get_projects_below.id order by id $$;
create function test.setprojects(id_l int, id_h int, name text) returns setof test.projects
  language sql volatile as $$
  update test.projects set name = setprojects.name where id >= id_l and id <= id_h returning *
$$;
create function test.test_empty_rowset() returns setof integer
  language sql immutable as $$ select null::int from (select 1) a where false $$;

-- scalars, domains, composites, records
create function test.add_them(a int, b int) returns int
  language sql immutable as $$ select a + b $$;
create function test.sayhello(name text) returns text
  language sql immutable as $$ select 'Hello, ' || name $$;
create function test.noparamsproc() returns text
  language sql immutable as $$ select 'Return value of no parameters procedure.' $$;
create function test.ret_domain(val integer) returns test.one_nine
  language sql immutable as $$ select val::test.one_nine $$;
create function test.ret_range(low integer, up integer) returns int4range
  language sql immutable as $$ select int4range(low, up) $$;
create function test.ret_array() returns int[]
  language sql immutable as $$ select '{1,2,3}'::int[] $$;
create function test.ret_setof_integers() returns setof integer
  language sql immutable as $$ values (1), (2), (3) $$;
create function test.ret_enum(val text) returns test.enum_menagerie_type
  language sql immutable as $$ select val::test.enum_menagerie_type $$;
create function test.ret_scalars() returns table(
  a text, b test.enum_menagerie_type, c test.one_nine, d int4range
) language sql immutable as $$
  select 'scalars'::text, enum_first(null::test.enum_menagerie_type), 1::test.one_nine,
         int4range(10, 20)
$$;
create function test.ret_point_2d() returns test.point_2d
  language sql immutable as $$ select row(10, 5)::test.point_2d $$;
create function test.ret_point_overloaded(x int, y int) returns test.point_2d
  language sql immutable as $$ select row(x, y)::test.point_2d $$;
create function test.ret_point_overloaded(x json) returns json
  language sql immutable as $$ select x $$;
create function test.ret_composite_domain() returns test.composite_domain
  language sql immutable as $$ select row(10, 5)::test.composite_domain $$;
create function test.single_article(id int) returns test.articles
  language sql stable as $$ select * from test.articles where articles.id = single_article.id $$;
create function test.ret_void() returns void language sql immutable as $$ select $$;
create function test.ret_null() returns int language sql immutable as $$ select null::int $$;
create function test.returns_record() returns record
  language sql stable as $$ select * from test.projects order by id limit 1 $$;
create function test.returns_record_params(id int, name text) returns record
  language sql stable as $$
  select * from test.projects p where p.id = $1 and p.name like $2
$$;
create function test.returns_setof_record() returns setof record
  language sql stable as $$ select * from test.projects order by id limit 2 $$;
create function test.returns_setof_record_params(id int, name text) returns setof record
  language sql stable as $$
  select * from test.projects p where p.id >= $1 and p.name like $2 order by p.id
$$;
create function test.test() returns table(test text, value int)
  language sql immutable as $$ select 'hello', 1 $$;

-- argument types
create function test.varied_arguments(
  double double precision, "varchar" character varying, "boolean" boolean, date date,
  money money, enum test.enum_menagerie_type, arr text[], "integer" integer default 42,
  "json" json default '{}', jsonb jsonb default '{}'
) returns json language sql immutable as $$
  select json_build_object(
    'double', double, 'varchar', "varchar", 'boolean', "boolean", 'date', date,
    'money', money, 'enum', enum, 'arr', arr, 'integer', "integer", 'json', "json",
    'jsonb', jsonb)
$$;
create function test.json_argument(arg json) returns text
  language sql immutable as $$ select json_typeof(arg) $$;
create function test.char_param_select(char_ char(4), char_arr char(4)[])
  returns table(char_ char, char_arr char[]) language sql immutable as $$ select $1, $2 $$;
create function test.bit_param_select(bit_ bit(4), bit_arr bit(4)[])
  returns table(bit_ bit varying, bit_arr bit varying[])
  language sql immutable as $$ select $1, $2 $$;
create function test.char_param_insert(char_ char(4), char_arr char(4)[]) returns void
  language sql volatile as $$
  insert into test.bitchar_with_length("char", char_arr) values ($1, $2)
$$;
create function test.bit_param_insert(bit_ bit(4), bit_arr bit(4)[]) returns void
  language sql volatile as $$ insert into test.bitchar_with_length(bit, bit_arr) values ($1, $2) $$;

-- OUT, INOUT, TABLE, VARIADIC, defaults, overloads
create function test.single_out_param(num int, out num_plus_one int)
  language sql immutable as $$ select num + 1 $$;
create function test.single_json_out_param(a int, b text, out my_json json)
  language sql immutable as $$ select json_build_object('a', a, 'b', b) $$;
create function test.single_inout_param(inout num int)
  language sql immutable as $$ select num + 1 $$;
create function test.many_out_params(out my_json json, out num int, out str text)
  language sql immutable as $$ select '{"a": 1, "b": "two"}'::json, 3, 'four'::text $$;
create function test.many_inout_params(inout num int, inout str text, inout b bool default true)
  language sql immutable as $$ select num, str, b $$;
create function test.single_column_table_return() returns table (a text)
  language sql immutable as $$ select 'A'::text $$;
create function test.multi_column_table_return() returns table (a text, b text)
  language sql immutable as $$ select 'A'::text, 'B'::text $$;
create function test.variadic_param(variadic v text[] default '{}') returns text[]
  language sql immutable as $$ select v $$;
create function test.sayhello_variadic(name text, variadic v text[]) returns text
  language sql immutable as $$ select 'Hello, ' || name $$;
create function test.three_defaults(a int default 1, b int default 2, c int default 3) returns int
  language sql immutable as $$ select a + b + c $$;
create function test.overloaded() returns setof int language sql immutable as $$ values (1), (2), (3) $$;
create function test.overloaded(a int, b int) returns int language sql immutable as $$ select a + b $$;
create function test.overloaded(a text, b text, c text) returns text
  language sql immutable as $$ select a || b || c $$;
create function test.overloaded_html_form() returns setof int
  language sql immutable as $$ values (1), (2), (3) $$;
create function test.overloaded_html_form(a int, b int) returns int
  language sql immutable as $$ select a + b $$;
create function test.overloaded_html_form(a text, b text, c text) returns text
  language sql immutable as $$ select a || b || c $$;
create function test.overloaded_default(must_param int) returns json
  language sql immutable as $$ select json_build_object('val', must_param) $$;
create function test.overloaded_default(a int, must_param int) returns json
  language sql immutable as $$ select json_build_object('a', a, 'val', must_param) $$;
create function test.overloaded_same_args(arg integer) returns text
  language sql immutable as $$ select 'integer' $$;
create function test.overloaded_same_args(arg xml) returns text
  language sql immutable as $$ select 'xml' $$;
create function test.overloaded_same_args(arg text, num integer default 0) returns text
  language sql immutable as $$ select 'text' $$;
create function test."quotedFunction"("user" text, "fullName" text, "SSN" text) returns jsonb
  language sql immutable as $$
  select jsonb_build_object('user', "user", 'fullName', "fullName", 'SSN', "SSN")
$$;

-- single unnamed parameters
create function test.unnamed_json_param(json) returns json language sql immutable as $$ select $1 $$;
create function test.named_json_param(data json) returns json
  language sql immutable as $$ select data $$;
create function test.unnamed_text_param(text) returns text language sql immutable as $$ select $1 $$;
create function test.unnamed_xml_param(xml) returns xml language sql immutable as $$ select $1 $$;
create function test.unnamed_bytea_param(bytea) returns bytea
  language sql immutable as $$ select $1 $$;
create function test.unnamed_int_param(int) returns int language sql immutable as $$ select $1 $$;
create function test.overloaded_unnamed_param(json) returns json
  language sql immutable as $$ select $1 $$;
create function test.overloaded_unnamed_param(bytea) returns bytea
  language sql immutable as $$ select $1 $$;
create function test.overloaded_unnamed_param(text) returns text
  language sql immutable as $$ select $1 $$;
create function test.overloaded_unnamed_param() returns int language sql immutable as $$ select 1 $$;
create function test.overloaded_unnamed_param(x int, y int) returns int
  language sql immutable as $$ select x + y $$;
create function test.overloaded_unnamed_json_jsonb_param(json) returns json
  language sql immutable as $$ select $1 $$;
create function test.overloaded_unnamed_json_jsonb_param(jsonb) returns jsonb
  language sql immutable as $$ select $1 $$;

-- errors
create function test.problem() returns void language plpgsql as $$
begin
  raise 'bad thing';
end $$;
create function test."assert"() returns void language plpgsql as $$
begin
  assert false, 'bad thing';
end $$;
create function test.raise_pt402() returns void language plpgsql as $$
begin
  raise sqlstate 'PT402' using message = 'Payment Required', detail = 'Quota exceeded',
                               hint = 'Upgrade your plan';
end $$;
create function test.raise_bad_pt() returns void language plpgsql as $$
begin
  raise sqlstate 'PT40A' using message = 'Wrong';
end $$;
create function test.raise_sqlstate_test1() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using
    message = '{"code":"123","message":"ABC","details":"DEF","hint":"XYZ"}',
    detail = '{"status":332,"status_text":"My Custom Status","headers":{"X-Header":"str"}}';
end $$;
create function test.raise_sqlstate_test2() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using message = '{"code":"123","message":"ABC"}',
    detail = '{"status":332,"headers":{"X-Header":"str"}}';
end $$;
create function test.raise_sqlstate_test3() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using message = '{"code":"123","message":"ABC"}',
    detail = '{"status":404,"headers":{"X-Header":"str"}}';
end $$;
create function test.raise_sqlstate_test4() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using message = '{"code":"123","message":"ABC"}',
    detail = '{"status":404,"status_text":"My Not Found","headers":{"X-Header":"str"}}';
end $$;
create function test.raise_sqlstate_invalid_json_message() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using message = 'INVALID', detail = '{"status":404,"headers":{}}';
end $$;
create function test.raise_sqlstate_invalid_json_details() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using message = '{"code":"123","message":"ABC"}', detail = 'INVALID';
end $$;
create function test.raise_sqlstate_missing_details() returns void language plpgsql as $$
begin
  raise sqlstate 'PGRST' using message = '{"code":"123","message":"ABC"}';
end $$;
create function test.raise_constraint(deferred bool default false) returns void
  language plpgsql as $$
begin
  if deferred then
    set constraints all deferred;
  end if;
  insert into test.deferrable_unique_constraint values (1), (1);
end $$;

-- Prefer: max-affected (MaxAffectedSpec): deletes that return what they deleted
create table test.deletable_items (id int primary key);
insert into test.deletable_items select generate_series(1, 15);
grant select, delete on test.deletable_items to web_anon, writer;
create function test.delete_items_returns_setof() returns setof test.deletable_items
  language sql volatile as $$ delete from test.deletable_items returning * $$;
create function test.delete_items_returns_table() returns table (id int)
  language sql volatile as $$ delete from test.deletable_items returning id $$;
create function test.delete_items_returns_void() returns void
  language sql volatile as $$ delete from test.deletable_items $$;

-- state, request GUCs, response GUCs
create function test.callcounter() returns bigint
  language sql volatile as $$ select nextval('test.callcounter_count') $$;
create function test.reset_sequence(name text, value integer) returns void
  language plpgsql volatile as $$
begin
  perform setval(name::regclass, value, false);
end $$;
create function test.get_guc_value(name text) returns text
  language sql stable as $$ select nullif(current_setting(name), '')::text $$;
create function test.get_guc_value(prefix text, name text) returns text
  language sql stable as $$ select nullif(current_setting(prefix), '')::json ->> name $$;
create function test.get_current_user() returns text
  language sql stable as $$ select current_user::text $$;
create function test.get_projects_and_guc_headers() returns setof test.projects
  language sql stable as $$
  select set_config('response.headers',
    '[{"X-Test": "key1=val1; someValue; key2=val2"}, {"X-Test-2": "key1=val1"}]', true);
  select * from test.projects order by id;
$$;
create function test.get_int_and_guc_headers(num int) returns integer language sql stable as $$
  select set_config('response.headers',
    '[{"X-Test":"key1=val1; someValue; key2=val2"},{"X-Test-2":"key1=val1"}]', true);
  select num;
$$;
create function test.bad_guc_headers_1() returns void language sql stable as $$
  select set_config('response.headers', '{"X-Test": "invalid structure for headers"}', true);
$$;
create function test.bad_guc_headers_2() returns void language sql stable as $$
  select set_config('response.headers', '["invalid", "structure", "for", "headers"]', true);
$$;
create function test.bad_guc_headers_3() returns void language sql stable as $$
  select set_config('response.headers',
    '{"X-Test": "invalid", "X-Test-2": "structure", "X-Test-3": "for headers"}', true);
$$;
create function test.set_cookie_twice() returns void language sql stable as $$
  select set_config('response.headers',
    '[{"Set-Cookie": "sessionid=38afes7a8; HttpOnly; Path=/"}, {"Set-Cookie": "id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; HttpOnly"}]',
    true);
$$;
create function test.send_body_status_403() returns json language plpgsql stable as $$
begin
  perform set_config('response.status', '403', true);
  return json_build_object('message', 'invalid user or password');
end $$;
create function test.send_bad_status() returns json language plpgsql stable as $$
begin
  perform set_config('response.status', 'bad', true);
  return null;
end $$;

-- privileges and OPTIONS
create function test.privileged_hello(name text) returns text
  language sql immutable as $$ select 'Privileged hello to ' || name $$;
create function test.reset_table() returns void
  language sql volatile as $$ select $$;
create function test.getallusers() returns setof test.projects
  language sql stable as $$ select * from test.projects $$;
create function test.jwt_test() returns text language sql immutable as $$ select 'token' $$;

create function test.reveal_big_jwt() returns table (
  iss text, sub text, exp bigint, nbf bigint, iat bigint, jti text,
  "http://postgrest.com/foo" boolean
) language sql stable as $$
  select c->>'iss', c->>'sub', (c->>'exp')::bigint, (c->>'nbf')::bigint, (c->>'iat')::bigint,
         c->>'jti', (c->>'http://postgrest.com/foo')::boolean
  from (select current_setting('request.jwt.claims')::json as c) as claims
$$;

-- a composite type in a schema the API roles cannot use; a type in public; a reserved word
create schema private;
create type private.point_3d as (x integer, y integer, z integer);
create function test.ret_point_3d() returns private.point_3d
  language sql immutable as $$ select row(7, -3, 4)::private.point_3d $$;
create type public.my_type as enum ('something');
grant usage on schema public to web_anon, writer;  -- the template revokes it
create function test.test_arg(my_arg public.my_type) returns text
  language sql immutable as $$ select 'foobar'::text $$;
create function test."true"() returns boolean language sql immutable as $$ select true $$;

-- the template revokes EXECUTE from PUBLIC by default: grant it to the API roles, except
-- privileged_hello, which only the writer may call
grant execute on all functions in schema test to web_anon, writer;
revoke all on function test.privileged_hello(text) from public, web_anon;
