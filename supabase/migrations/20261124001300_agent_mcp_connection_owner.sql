-- =============================================================================
-- The owner of a connection on its own row: agent_mcp_connections.owner_id, the
-- user_id of the connection's agent, kept in step by triggers, indexed with the
-- list's sort key, and read by the policies.
--
-- Why: the policies of *_agent_mcp_connections.sql compare agent_id with the
-- caller's agents, so a user with many agents reads every one of their connections
-- (a bitmap scan of the agent_id index) and sorts them to return the newest 50:
-- 0.94 ms for 500 connections, growing with the list. With the owner on the row,
-- `owner_id = (select auth.uid())` and the index (owner_id, created_at, id) make
-- page 1 an index range scan that stops after 50 rows, whatever the list's length
-- (bench/scenarios/rls.ts: the heavy user's page 1 beside the research draft's).
--
-- The column is the module's, never the caller's:
--   * on insert it is set from agents.user_id (whatever the writer sent);
--   * when an agent changes hands (agents.user_id updated: the platform's or
--     service_role's doing; the module's own agents policies let no user do it),
--     its connections follow in the same statement;
--   * users hold no column privilege on it, and any other write of it (service_role
--     included) is refused unless it is the agent's owner.
-- agent_id never changes (the guard trigger), so the agent's owner is the one truth.
-- An agent without an owner (a platform's agents.user_id that is nullable) cannot
-- hold connections: owner_id is NOT NULL, and nobody could see such rows anyway.
-- Deleting a user still works as before: agents.user_id cascades, so the agents
-- and their connections go (a platform whose agents.user_id is ON DELETE SET NULL
-- must delete or move that user's agents first).
--
-- The usage writer updates usage_stats, last_used and updated_at only; the new
-- index covers none of them, so usage updates stay HOT updates
-- (bench/scenarios/usage_hot.ts measures it).
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: the column
-- -----------------------------------------------------------------------------

alter table public.agent_mcp_connections add column if not exists owner_id uuid;

comment on column public.agent_mcp_connections.owner_id is
    'The user who owns the connection''s agent (agents.user_id); set and kept in step by triggers, never by the caller';

-- Rows written before this migration get their agent's owner. updated_at is left
-- as it was: nothing a user wrote changed.
alter table public.agent_mcp_connections disable trigger trigger_agent_mcp_connections_updated_at;
update public.agent_mcp_connections as c
set owner_id = a.user_id
from public.agents as a
where a.id = c.agent_id
  and c.owner_id is distinct from a.user_id;
alter table public.agent_mcp_connections enable trigger trigger_agent_mcp_connections_updated_at;

alter table public.agent_mcp_connections alter column owner_id set not null;


-- -----------------------------------------------------------------------------
-- Section: index
-- -----------------------------------------------------------------------------

-- A user's list, newest first, one keyset page at a time: the select policy's
-- owner_id = auth.uid() and the list's order by (created_at desc, id desc) are one
-- range of this index, read backwards. Also covers counting a user's rows.
create index if not exists idx_agent_mcp_connections_owner_created_at
    on public.agent_mcp_connections (owner_id, created_at, id);


-- -----------------------------------------------------------------------------
-- Section: triggers
-- -----------------------------------------------------------------------------

-- Sets owner_id from the agent on every insert, whatever the writer sent. Runs with
-- the writer's rights, as the policies' agent lookups did: a user who may not see
-- the agent leaves owner_id null and the insert policy refuses the row (42501, the
-- same answer whether the agent is someone else's or does not exist); a writer
-- that bypasses RLS gets the agent's owner, or, for no agent at all, the foreign
-- key's error (23503) rather than NOT NULL's.
create or replace function agent_mcp_private.set_connection_owner()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.owner_id := (select a.user_id from public.agents as a where a.id = new.agent_id);
    if new.owner_id is null and not row_security_active('public.agent_mcp_connections') then
        raise exception 'insert or update on table "agent_mcp_connections" violates foreign key constraint "agent_mcp_connections_agent_id_fkey"'
            using errcode = '23503',
                  detail = format('Key (agent_id)=(%s) is not present in table "agents".', new.agent_id);
    end if;
    return new;
end;
$$;

comment on function agent_mcp_private.set_connection_owner() is
    'Trigger: a new connection''s owner_id is its agent''s user_id, never the writer''s value.';

-- A trigger fires without EXECUTE; nobody calls it directly.
revoke execute on function agent_mcp_private.set_connection_owner()
    from public, anon, authenticated, service_role;

create or replace trigger trigger_agent_mcp_connections_set_owner
    before insert on public.agent_mcp_connections
    for each row
    execute function agent_mcp_private.set_connection_owner();

-- Refuses any change of owner_id but the one that follows the agent's owner (the
-- trigger on agents below). SECURITY DEFINER: it compares with the agent's true
-- owner, whatever the writer may see. The WHEN clause keeps it off every other
-- update (usage events, tests, config changes).
create or replace function agent_mcp_private.guard_connection_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.owner_id is distinct from (select a.user_id from public.agents as a where a.id = new.agent_id) then
        raise exception 'owner_id is the agent''s owner and cannot be set'
            using errcode = '23514';
    end if;
    return new;
end;
$$;

comment on function agent_mcp_private.guard_connection_owner() is
    'Trigger: owner_id changes only to follow its agent''s user_id.';

revoke execute on function agent_mcp_private.guard_connection_owner()
    from public, anon, authenticated, service_role;

create or replace trigger trigger_agent_mcp_connections_guard_owner
    before update on public.agent_mcp_connections
    for each row
    when (old.owner_id is distinct from new.owner_id)
    execute function agent_mcp_private.guard_connection_owner();

-- When an agent changes hands, its connections (history included) follow, in the
-- same statement. On agents, which may be the platform's own table: the trigger
-- adds nothing but this, whatever the platform's policies allow. SECURITY DEFINER:
-- the connections are the module's to update, whoever moved the agent.
create or replace function agent_mcp_private.follow_agent_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.agent_mcp_connections as c
    set owner_id = new.user_id
    where c.agent_id = new.id
      and c.owner_id is distinct from new.user_id;
    return null;
end;
$$;

comment on function agent_mcp_private.follow_agent_owner() is
    'Trigger on agents: an agent''s connections follow it to its new owner.';

revoke execute on function agent_mcp_private.follow_agent_owner()
    from public, anon, authenticated, service_role;

create or replace trigger trigger_agent_mcp_connections_follow_agent_owner
    after update of user_id on public.agents
    for each row
    when (old.user_id is distinct from new.user_id)
    execute function agent_mcp_private.follow_agent_owner();


-- -----------------------------------------------------------------------------
-- Section: Row Level Security
-- -----------------------------------------------------------------------------

-- The policies of *_agent_mcp_connections.sql, on the owner column: the same rows
-- (owner_id is the agent's user_id), one index range instead of a scan of every
-- connection of every agent the caller owns. auth.uid() is read once per query.
drop policy if exists "Users can view their own agent connections" on public.agent_mcp_connections;
create policy "Users can view their own agent connections" on public.agent_mcp_connections
    for select to authenticated
    using (owner_id = (select auth.uid()));

drop policy if exists "Users can create connections for their own agents" on public.agent_mcp_connections;
create policy "Users can create connections for their own agents" on public.agent_mcp_connections
    for insert to authenticated
    with check (owner_id = (select auth.uid()));

drop policy if exists "Users can update their own agent connections" on public.agent_mcp_connections;
create policy "Users can update their own agent connections" on public.agent_mcp_connections
    for update to authenticated
    using (owner_id = (select auth.uid()))
    with check (owner_id = (select auth.uid()));

drop policy if exists "Users can delete their own agent connections" on public.agent_mcp_connections;
create policy "Users can delete their own agent connections" on public.agent_mcp_connections
    for delete to authenticated
    using (owner_id = (select auth.uid()));
