-- =============================================================================
-- The module's views are read-only, and a write to one is refused as a client
-- error, not a server error.
--
-- A view PostgreSQL cannot update itself (a join, an aggregate) fails a write with
-- 55000 "cannot insert into view" before privileges are checked, which PostgREST
-- answers with 500. With an INSTEAD OF trigger the view counts as writable, so the
-- privilege check comes first: every API role holds only SELECT, and the write is
-- refused with 42501 "permission denied for view ..." (PostgREST: 401 for anon,
-- 403 for a signed-in user or service_role). A role that does hold the privilege
-- (the owner) meets the trigger, which refuses with 42501 as well. Nothing is
-- ever written through a view.
--
-- After every migration that creates a view, so it covers them all (a view that
-- is dropped and created again gets its trigger back when this file runs again).
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- Refuses any write through a view.
create or replace function agent_mcp_private.refuse_view_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception 'permission denied for view %: it is read-only', tg_table_name
        using errcode = '42501',
              hint = 'Write through the mcp-connections API or the module''s functions.';
end;
$$;

revoke execute on function agent_mcp_private.refuse_view_write()
    from public, anon, authenticated, service_role;

do $$
declare
    view_name text;
begin
    foreach view_name in array array[
        'active_agent_mcp_connections',
        'user_mcp_connection_stats',
        'agent_mcp_connection_health_summary'
    ] loop
        if to_regclass('public.' || view_name) is not null then
            execute format(
                'create or replace trigger refuse_writes instead of insert or update or delete '
                || 'on public.%I for each row execute function agent_mcp_private.refuse_view_write()',
                view_name
            );
        end if;
    end loop;
end;
$$;
