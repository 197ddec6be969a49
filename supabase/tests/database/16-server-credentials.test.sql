-- Server credentials (issue 15): administrators set them with the service role; no
-- signed-in user nor anon can read, write or even see them; the probe reads them
-- with the service role; a rotation bumps the version that keys cached tokens.
begin;
select plan(31);
\ir _helpers.psql

-- =============================================================================
-- Structure: a schema no API role may enter, a table no API role may touch
-- =============================================================================
select has_table('agent_mcp_secrets', 'mcp_server_credentials', 'the credentials table exists');
select is(
    (select relrowsecurity from pg_class where oid = 'agent_mcp_secrets.mcp_server_credentials'::regclass),
    true, 'the credentials table has row level security on');
select ok(not has_schema_privilege(r, 'agent_mcp_secrets', 'usage'),
    format('%s has no USAGE on agent_mcp_secrets', r))
from unnest(array['anon', 'authenticated', 'service_role']) as r;
select table_privs_are('agent_mcp_secrets', 'mcp_server_credentials', r, array[]::text[],
    format('%s holds no privilege on the credentials table', r))
from unnest(array['anon', 'authenticated', 'service_role']) as r;

-- =============================================================================
-- Administrator (service_role): set, rotate, list, read for the probe, delete
-- =============================================================================
select tests.authenticate_as_service_role();

select results_eq($$
    select server_id, kind, version from set_mcp_server_credentials('d0000000-0000-4000-8000-000000000001',
        '{"kind": "headers", "headers": {"Authorization": "Bearer pgtap-secret-1"}}')
$$, $$ values ('d0000000-0000-4000-8000-000000000001'::uuid, 'headers', 1::bigint) $$,
'service_role sets a server''s credentials (version 1), and the answer holds no secret');
select results_eq($$
    select kind, version from set_mcp_server_credentials('d0000000-0000-4000-8000-000000000001',
        '{"kind": "oauth_client_credentials", "clientId": "probe", "clientSecret": "pgtap-secret-2",
          "scope": "mcp:read"}')
$$, $$ values ('oauth_client_credentials', 2::bigint) $$,
'setting them again rotates them: version 2');
select results_eq($$
    select server_id, kind, version from list_mcp_server_credentials()
$$, $$ values ('d0000000-0000-4000-8000-000000000001'::uuid, 'oauth_client_credentials', 2::bigint) $$,
'list_mcp_server_credentials() says which servers have which kind, at which version');
select results_eq($$
    select version, credentials ->> 'clientSecret'
    from mcp_server_probe_credentials(array['d0000000-0000-4000-8000-000000000001'::uuid,
                                            'd0000000-0000-4000-8000-000000000002'::uuid])
$$, $$ values (2::bigint, 'pgtap-secret-2') $$,
'the probe''s read returns the current secret of the servers that have one');
select is(
    tests.error_of($$ select set_mcp_server_credentials('d0000000-0000-4000-8000-0000000000ff',
        '{"kind": "headers", "headers": {"X-Api-Key": "k"}}') $$) -> 'detail' ->> 'code',
    'mcp_server_not_found', 'credentials for an unknown server: mcp_server_not_found');

-- Malformed credentials are refused, and the error repeats no value.
select is(
    tests.error_of(format($$ select set_mcp_server_credentials('d0000000-0000-4000-8000-000000000002', %L) $$, bad)) -> 'detail' ->> 'code',
    'invalid_request', format('refused: %s', why))
from (values
    ('{"kind": "headers", "headers": {}}', 'headers without any header'),
    ('{"kind": "headers", "headers": {"Host": "x"}}', 'a framing header'),
    ('{"kind": "headers", "headers": {"X-Key": 1}}', 'a header value that is not a string'),
    ('{"kind": "oauth_client_credentials", "clientId": "c"}', 'OAuth without a secret or key'),
    ('{"kind": "oauth_client_credentials", "clientId": "c", "clientSecret": "s", "privateKey": "k", "signingAlgorithm": "RS256"}',
     'OAuth with both a secret and a key'),
    ('{"kind": "oauth_client_credentials", "clientId": "c", "clientSecret": "s", "tokenEndpoint": "ftp://x"}',
     'a token endpoint that is not http(s)'),
    ('{"kind": "oauth_client_credentials", "clientId": "c", "clientSecret": "s", "extra": 1}', 'an unknown field'),
    ('{"kind": "basic"}', 'an unknown kind')
) as cases (bad, why);
select ok(
    tests.error_of($$ select set_mcp_server_credentials('d0000000-0000-4000-8000-000000000002',
        '{"kind": "headers", "headers": {"Host": "pgtap-leaky-value"}}') $$)::text
        not like '%pgtap-leaky-value%',
    'the refusal does not repeat the value it refused');

-- =============================================================================
-- Signed-in user (a0, who owns a connection to the server): nothing
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select mcp_server_id from begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001')
$$, $$ values ('d0000000-0000-4000-8000-000000000001'::uuid) $$,
'begin_agent_mcp_connection_test() names the server whose credentials the probe reads next');
select throws_ok($$ select * from mcp_server_probe_credentials(array['d0000000-0000-4000-8000-000000000001'::uuid]) $$,
    '42501', 'permission denied for function mcp_server_probe_credentials',
    'a user cannot read server credentials, not even of a server they are connected to');
select throws_ok($$ select * from list_mcp_server_credentials() $$,
    '42501', 'permission denied for function list_mcp_server_credentials',
    'a user cannot list server credentials');
select throws_ok($$ select set_mcp_server_credentials('d0000000-0000-4000-8000-000000000001',
        '{"kind": "headers", "headers": {"X-Api-Key": "mine"}}') $$,
    '42501', 'permission denied for function set_mcp_server_credentials',
    'a user cannot set server credentials');
select throws_ok($$ select * from agent_mcp_secrets.mcp_server_credentials $$,
    '42501', 'permission denied for schema agent_mcp_secrets',
    'a user cannot reach the credentials table');

-- =============================================================================
-- Admin user (c0, admin role): still nothing: administration is the service role's
-- =============================================================================
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');
select throws_ok($$ select delete_mcp_server_credentials('d0000000-0000-4000-8000-000000000001') $$,
    '42501', 'permission denied for function delete_mcp_server_credentials',
    'an admin user cannot delete server credentials with their JWT');

-- =============================================================================
-- Anon: nothing
-- =============================================================================
select tests.authenticate_as_anon();
select throws_ok($$ select * from mcp_server_probe_credentials(array['d0000000-0000-4000-8000-000000000001'::uuid]) $$,
    '42501', 'permission denied for function mcp_server_probe_credentials',
    'anon cannot read server credentials');

-- =============================================================================
-- Administrator again: delete
-- =============================================================================
select tests.authenticate_as_service_role();
select is(delete_mcp_server_credentials('d0000000-0000-4000-8000-000000000001'), true,
    'service_role removes a server''s credentials');
select is_empty($$ select * from mcp_server_probe_credentials(array['d0000000-0000-4000-8000-000000000001'::uuid]) $$,
    'after which the probe reads none');

select * from finish();
rollback;
