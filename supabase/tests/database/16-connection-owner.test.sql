-- owner_id: the connection's owner on its own row (migration *_agent_mcp_connection_owner.sql).
-- Set from the agent on insert whatever the writer sends, never writable by users,
-- refused when forged (service_role included), following the agent when it changes
-- hands; the policies read it, and a user's list is one range of its index.
begin;
select plan(22);
\ir _helpers.psql

-- =============================================================================
-- Structure
-- =============================================================================
select col_not_null('public', 'agent_mcp_connections', 'owner_id', 'owner_id is required');
select col_type_is('public', 'agent_mcp_connections', 'owner_id', 'uuid', 'owner_id is a uuid');
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_owner_created_at',
    array['owner_id', 'created_at', 'id'], 'a user''s list pages by (owner_id, created_at, id)');
select is_empty($$
    select i.indexrelid::regclass
    from pg_index as i
    join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
    where i.indrelid = 'public.agent_mcp_connections'::regclass
      and a.attname in ('usage_stats', 'last_used', 'updated_at')
$$, 'no index covers a column the usage writer updates (usage events stay HOT updates)');
select ok(
    (select bool_and(coalesce(qual, '') || coalesce(with_check, '') like '%owner_id = ( SELECT auth.uid() AS uid)%')
     from pg_policies where schemaname = 'public' and tablename = 'agent_mcp_connections'),
    'every policy compares owner_id with the caller, read once per query'
);
select is(
    (select count(*)::integer
     from information_schema.column_privileges
     where table_schema = 'public' and table_name = 'agent_mcp_connections'
       and column_name = 'owner_id' and privilege_type in ('INSERT', 'UPDATE')
       and grantee in ('anon', 'authenticated', 'PUBLIC')),
    0,
    'users hold no privilege to write owner_id'
);

-- The fixtures' rows got their agents' owners.
select results_eq($$
    select c.id, c.owner_id from public.agent_mcp_connections as c
    where c.id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002',
                   'c2000000-0000-4000-8000-000000000003')
    order by c.id
$$, $$ values
    ('a2000000-0000-4000-8000-000000000001'::uuid, 'a0000000-0000-4000-8000-000000000001'::uuid),
    ('b2000000-0000-4000-8000-000000000002'::uuid, 'b0000000-0000-4000-8000-000000000002'::uuid),
    ('c2000000-0000-4000-8000-000000000003'::uuid, 'c0000000-0000-4000-8000-000000000003'::uuid)
$$, 'every connection''s owner_id is its agent''s user_id');

-- =============================================================================
-- Owner (a0): the column is the module's
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select owner_id from connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000002')
$$, $$ values ('a0000000-0000-4000-8000-000000000001'::uuid) $$,
'a connect sets owner_id to the agent''s owner');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, owner_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
            'b0000000-0000-4000-8000-000000000002')
$$, '42501', 'permission denied for table agent_mcp_connections',
'the owner cannot name an owner on insert');
select throws_ok($$
    update public.agent_mcp_connections set owner_id = 'b0000000-0000-4000-8000-000000000002'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '42501', 'permission denied for table agent_mcp_connections',
'the owner cannot hand a connection to another user');
select throws_ok($$
    update public.agent_mcp_connections set owner_id = 'a0000000-0000-4000-8000-000000000001'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '42501', 'permission denied for table agent_mcp_connections',
'the owner cannot claim another user''s connection');

-- =============================================================================
-- Other user (b0): forging through an agent they do not own
-- =============================================================================
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');

select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001')
$$, '42501', 'new row violates row-level security policy for table "agent_mcp_connections"',
'the other user cannot connect the owner''s agent (the row''s owner is the agent''s, not the caller)');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('e1000000-0000-4000-8000-00000000000e', 'd0000000-0000-4000-8000-000000000001')
$$, '42501', 'new row violates row-level security policy for table "agent_mcp_connections"',
'an agent that does not exist gets the same answer (no way to tell it from someone else''s)');

-- =============================================================================
-- service_role: writes what it likes, but not a false owner
-- =============================================================================
select tests.authenticate_as_service_role();

select results_eq($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, owner_id, created_by)
    values ('c1000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000002',
            'b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000003')
    returning owner_id
$$, $$ values ('c0000000-0000-4000-8000-000000000003'::uuid) $$,
'a forged owner_id on insert is replaced by the agent''s owner');
select throws_ok($$
    update public.agent_mcp_connections set owner_id = 'b0000000-0000-4000-8000-000000000002'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '23514', 'owner_id is the agent''s owner and cannot be set',
'service_role cannot set owner_id to anyone but the agent''s owner');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('e1000000-0000-4000-8000-00000000000e', 'd0000000-0000-4000-8000-000000000001')
$$, '23503', 'insert or update on table "agent_mcp_connections" violates foreign key constraint "agent_mcp_connections_agent_id_fkey"',
'a connection of no agent is refused as the foreign key refuses it');

-- =============================================================================
-- The agent changes hands (the platform moves it): its connections follow
-- =============================================================================
select lives_ok($$
    update public.agents set user_id = 'b0000000-0000-4000-8000-000000000002'
    where id = 'a1000000-0000-4000-8000-000000000001'
$$, 'service_role moves the owner''s agent to the other user');
select is(
    (select array_agg(distinct owner_id) from public.agent_mcp_connections
     where agent_id = 'a1000000-0000-4000-8000-000000000001'),
    array['b0000000-0000-4000-8000-000000000002'::uuid],
    'every connection of the moved agent (history included) now belongs to the new owner'
);
select is(
    (select count(*)::integer from public.agent_mcp_connections
     where owner_id = 'a0000000-0000-4000-8000-000000000001'),
    0,
    'the previous owner keeps no connection'
);

select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');
select results_eq($$
    select id from public.agent_mcp_connections
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, $$ values ('a2000000-0000-4000-8000-000000000001'::uuid) $$,
'the new owner sees the moved agent''s connection');

select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select is_empty($$
    select id from public.agent_mcp_connections
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, 'the previous owner no longer sees it');

-- =============================================================================
-- A user's list is one range of the owner index
-- =============================================================================
-- A few rows cost nothing whichever way they are read, so the planner is told to
-- avoid what a long list must not do (read every row, or sort); with the agent_id
-- policy it then walked the created_at index over every user's rows.
select tests.clear_authentication();
create function tests.plan_of(p_query text)
returns setof text
language plpgsql
set search_path = ''
as $$
begin
    return query execute 'explain (costs off) ' || p_query;
end;
$$;
grant execute on function tests.plan_of(text) to authenticated;
set local enable_seqscan = off;
set local enable_bitmapscan = off;
set local enable_sort = off;
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');
select matches(
    (select string_agg(line, E'\n') from tests.plan_of($$
        select * from public.agent_mcp_connections
        order by created_at desc, id desc limit 50
    $$) as line),
    'Index Scan Backward using idx_agent_mcp_connections_owner_created_at on agent_mcp_connections\s+Index Cond: \(owner_id = \$0\)',
    'a user''s page 1 is one range of the owner index, read backwards'
);

select * from finish();
rollback;
