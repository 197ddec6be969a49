-- =============================================================================
-- Admin read access: the research draft's "Admins can view all agent connections"
-- policy, done as SECURITY DEFINER functions instead of a second policy.
--
-- Why not a policy: any OR between the owner test and an admin test (two
-- permissive policies are OR'd too) is estimated at ~50% selectivity, so every
-- user's "newest first" list walks the created_at index over the whole table
-- (measured ~150 ms at 1M rows, against ~0.1 ms with the owner policy alone).
-- These functions check (select public.is_admin()) first and then read with
-- plain index scans. Both are flagged by Supabase's linter as
-- authenticated_security_definer_function_executable: intended, each checks its
-- caller itself and refuses non-admins (PT403 forbidden, the module's coded error).
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: admin_list_agent_mcp_connections()
-- -----------------------------------------------------------------------------

-- Every user's connections, newest first, one page at a time (keyset pagination:
-- pass the last row's created_at and id to get the next page; stable under inserts).
--   p_limit             1 .. 1000
--   p_before_created_at, p_before_id
--                       the key of the last row of the previous page (both or neither)
--   p_active            only active (true) or only disconnected (false) rows; null: all
create or replace function public.admin_list_agent_mcp_connections(
    p_limit integer default 50,
    p_before_created_at timestamptz default null,
    p_before_id uuid default null,
    p_active boolean default null
)
returns setof public.agent_mcp_connections
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if not (select public.is_admin()) then
        perform agent_mcp_private.raise_error(403, 'forbidden', 'This needs the admin role.');
    end if;
    if p_limit is null or p_limit not between 1 and 1000 then
        raise exception 'limit must be between 1 and 1000' using errcode = '22023';
    end if;
    if (p_before_created_at is null) <> (p_before_id is null) then
        raise exception 'the page key needs both created_at and id' using errcode = '22023';
    end if;

    -- The upper bound is the largest possible key on the first page, so a single
    -- row comparison serves every page and walks the (created_at, id) index.
    return query
        select c.*
        from public.agent_mcp_connections as c
        where (c.created_at, c.id) < (
                  coalesce(p_before_created_at, 'infinity'::timestamptz),
                  coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
              )
          and (p_active is null or c.is_active = p_active)
        order by c.created_at desc, c.id desc
        limit p_limit;
end;
$$;

comment on function public.admin_list_agent_mcp_connections(integer, timestamptz, uuid, boolean) is
    'Admins only: every user''s connections, newest first, keyset-paginated.';

revoke execute on function public.admin_list_agent_mcp_connections(integer, timestamptz, uuid, boolean)
    from public, anon;
grant execute on function public.admin_list_agent_mcp_connections(integer, timestamptz, uuid, boolean)
    to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: admin_agent_mcp_connection_stats()
-- -----------------------------------------------------------------------------

-- Totals over every user's connections (the admin counterpart of
-- user_mcp_connection_stats).
create or replace function public.admin_agent_mcp_connection_stats()
returns table (
    total_connections bigint,
    active_connections bigint,
    connected_connections bigint,
    error_connections bigint,
    testing_connections bigint,
    disconnected_connections bigint,
    users bigint,
    agents bigint,
    servers bigint,
    last_connection_used timestamptz,
    first_connection_created timestamptz
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if not (select public.is_admin()) then
        perform agent_mcp_private.raise_error(403, 'forbidden', 'This needs the admin role.');
    end if;

    return query
        select
            count(*),
            count(*) filter (where c.is_active),
            count(*) filter (where c.is_active and c.connection_status = 'connected'),
            count(*) filter (where c.is_active and c.connection_status = 'error'),
            count(*) filter (where c.is_active and c.connection_status = 'testing'),
            count(*) filter (where not c.is_active),
            count(distinct a.user_id),
            count(distinct c.agent_id),
            count(distinct c.mcp_server_instance_id),
            max(c.last_used),
            min(c.created_at)
        from public.agent_mcp_connections as c
        join public.agents as a on a.id = c.agent_id;
end;
$$;

comment on function public.admin_agent_mcp_connection_stats() is
    'Admins only: totals over every user''s connections.';

revoke execute on function public.admin_agent_mcp_connection_stats() from public, anon;
grant execute on function public.admin_agent_mcp_connection_stats() to authenticated, service_role;
