-- The prerequisite tables: agents, MCP servers and their secrets, user roles.
begin;
select plan(18);
\ir _helpers.psql

-- =============================================================================
-- Owner (a0)
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq(
    $$ select id from public.agents $$,
    $$ values ('a1000000-0000-4000-8000-000000000001'::uuid) $$,
    'a user sees only their own agents'
);
select lives_ok($$
    insert into public.agents (user_id, name) values ('a0000000-0000-4000-8000-000000000001', 'Second agent')
$$, 'a user creates an agent of their own');
select throws_ok($$
    insert into public.agents (user_id, name) values ('b0000000-0000-4000-8000-000000000002', 'Planted agent')
$$, '42501', 'new row violates row-level security policy for table "agents"',
'a user cannot create an agent for another user');
select throws_ok($$
    update public.agents set user_id = 'b0000000-0000-4000-8000-000000000002'
    where id = 'a1000000-0000-4000-8000-000000000001'
$$, '42501', 'new row violates row-level security policy for table "agents"',
'a user cannot give an agent away');

select results_eq($$
    select id, instance_name_on_toolbox from public.account_tool_instances
    where id in ('d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002')
    order by id
$$, $$ values
    ('d0000000-0000-4000-8000-000000000001'::uuid, 'Server one'),
    ('d0000000-0000-4000-8000-000000000002'::uuid, 'Server two')
$$, 'a signed-in user reads the list of MCP servers');
select throws_ok($$
    insert into public.account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    values ('Rogue server', 'http://10.0.0.1/mcp')
$$, '42501', 'new row violates row-level security policy for table "account_tool_instances"',
'a user cannot add an MCP server');
select is_empty($$
    update public.account_tool_instances set mcp_server_url = 'http://169.254.169.254/' returning id
$$, 'a user cannot repoint an MCP server');
select is_empty($$
    delete from public.account_tool_instances returning id
$$, 'a user cannot remove an MCP server');
select throws_ok($$ select * from public.account_tool_instance_secrets $$,
    '42501', 'permission denied for table account_tool_instance_secrets',
    'a user cannot read MCP server secrets');

select results_eq(
    $$ select role from public.user_roles $$,
    $$ select role from public.user_roles where false $$,
    'a user without roles reads none'
);
select throws_ok($$
    insert into public.user_roles (user_id, role) values ('a0000000-0000-4000-8000-000000000001', 'admin')
$$, '42501', 'permission denied for table user_roles', 'a user cannot make themselves admin');

-- =============================================================================
-- Admin (c0)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');

select results_eq(
    $$ select role from public.user_roles $$,
    $$ values ('admin') $$,
    'an admin reads their own role'
);
select lives_ok($$
    insert into public.account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    values ('New server', 'https://mcp.example.org/mcp')
$$, 'an admin adds an MCP server');
select throws_ok($$ select * from public.account_tool_instance_secrets $$,
    '42501', 'permission denied for table account_tool_instance_secrets',
    'an admin cannot read MCP server secrets either (service_role only)');
select throws_ok($$
    insert into public.account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    values ('Bad URL', 'file:///etc/passwd')
$$, '23514', null, 'an MCP server URL must be http(s)');

-- =============================================================================
-- anon and service_role
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_anon();
select throws_ok($$ select * from public.account_tool_instances $$,
    '42501', 'permission denied for table account_tool_instances', 'anon cannot read the MCP servers');
select throws_ok($$ select * from public.agents $$,
    '42501', 'permission denied for table agents', 'anon cannot read agents');

select tests.clear_authentication();
select tests.authenticate_as_service_role();
select results_eq(
    $$ select secret ->> 'token' from public.account_tool_instance_secrets $$,
    $$ values ('do-not-leak') $$,
    'service_role reads MCP server secrets'
);

select tests.clear_authentication();
select * from finish();
rollback;
