-- =============================================================================
-- Demo data for local development (`deno task dev`, `supabase db reset`).
-- Fixed ids, so the printed demo request and the README's examples work as
-- written. Safe to run again: every insert skips rows that exist.
--
--   demo user   11111111-1111-4111-8111-111111111111  demo@example.com
--   other user  44444444-4444-4444-8444-444444444444  other@example.com
--   admin user  aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa  admin@example.com (role admin)
--   demo agent  22222222-2222-4222-8222-222222222222  (demo user's)
--   MCP server  33333333-3333-4333-8333-333333333333  "Demo MCP server"
--   connection  77777777-7777-4777-8777-777777777777  demo agent -> demo server
-- =============================================================================

insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
values
    ('11111111-1111-4111-8111-111111111111', 'authenticated', 'authenticated', 'demo@example.com',
     now(), '{"provider": "email", "providers": ["email"]}', '{"name": "Demo User"}'),
    ('44444444-4444-4444-8444-444444444444', 'authenticated', 'authenticated', 'other@example.com',
     now(), '{"provider": "email", "providers": ["email"]}', '{"name": "Other User"}'),
    ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'authenticated', 'authenticated', 'admin@example.com',
     now(), '{"provider": "email", "providers": ["email"]}', '{"name": "Admin User"}')
on conflict do nothing;

insert into public.user_roles (user_id, role)
values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'admin')
on conflict do nothing;

insert into public.agents (id, user_id, name, description)
values
    ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111',
     'Demo agent', 'The demo user''s agent'),
    ('55555555-5555-4555-8555-555555555555', '44444444-4444-4444-8444-444444444444',
     'Other agent', 'Another user''s agent: the demo user must never see it')
on conflict do nothing;

-- The local stack serves a real MCP server at this address (scripts/stack/demo_mcp_server.ts).
insert into public.account_tool_instances (id, instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
values
    ('33333333-3333-4333-8333-333333333333', 'Demo MCP server', 'running', 'http://127.0.0.1:54330/mcp')
on conflict do nothing;

-- One connection each for the demo user and the other user: each sees only their own.
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by, connection_config)
values
    ('77777777-7777-4777-8777-777777777777', '22222222-2222-4222-8222-222222222222',
     '33333333-3333-4333-8333-333333333333', '11111111-1111-4111-8111-111111111111',
     '{"timeout": 5000, "retryAttempts": 1, "customHeaders": {"User-Agent": "Demo-Agent/1.0"}}'),
    ('66666666-6666-4666-8666-666666666666', '55555555-5555-4555-8555-555555555555',
     '33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444',
     '{"timeout": 5000, "retryAttempts": 1}')
on conflict do nothing;
