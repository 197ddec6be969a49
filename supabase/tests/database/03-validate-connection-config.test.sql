-- validate_connection_config(): true for valid configs, false (never an error) for anything else.
begin;
select plan(55);

-- -----------------------------------------------------------------------------
-- Valid
-- -----------------------------------------------------------------------------
select is(validate_connection_config('{}'), true, 'an empty config is valid');
select is(validate_connection_config('{"timeout": 30000, "retryAttempts": 3, "customHeaders": {"User-Agent": "Agentopia-Agent/1.0"}, "enableLogging": false, "maxConcurrentRequests": 10}'), true, 'the research document''s example config is valid');
select is(validate_connection_config('{"timeout": 100}'), true, 'timeout 100 ms (lower bound) is valid');
select is(validate_connection_config('{"timeout": 120000}'), true, 'timeout 120000 ms (upper bound) is valid');
select is(validate_connection_config('{"timeout": 5000.0}'), true, 'an integral number written with a fraction is valid');
select is(validate_connection_config('{"retryAttempts": 0}'), true, 'zero retries is valid');
select is(validate_connection_config('{"retryAttempts": 10}'), true, 'ten retries is valid');
select is(validate_connection_config('{"maxConcurrentRequests": 1}'), true, 'one concurrent request is valid');
select is(validate_connection_config('{"maxConcurrentRequests": 1000}'), true, 'a thousand concurrent requests is valid');
select is(validate_connection_config('{"enableLogging": true}'), true, 'enableLogging true is valid');
select is(validate_connection_config('{"customHeaders": {}}'), true, 'no custom headers is valid');
select is(validate_connection_config('{"customHeaders": {"Authorization": "Bearer abc", "X-Api-Key": "k", "x-trace": ""}}'), true, 'ordinary headers, an empty value included, are valid');
select is(validate_connection_config(jsonb_build_object('customHeaders', jsonb_build_object('X-Long', repeat('a', 4096)))), true, 'a 4096-character header value is valid');
select is(validate_connection_config(jsonb_build_object('customHeaders', (select jsonb_object_agg('X-H' || i, 'v') from generate_series(1, 32) as i))), true, '32 headers are valid');
select is(validate_connection_config('{"customHeaders": {"X-Tab": "a\tb"}}'), true, 'a header value may contain a tab');

-- -----------------------------------------------------------------------------
-- Wrong shape
-- -----------------------------------------------------------------------------
select is(validate_connection_config(null), false, 'null is not a config');
select is(validate_connection_config('[]'), false, 'an array is not a config');
select is(validate_connection_config('"timeout"'), false, 'a string is not a config');
select is(validate_connection_config('42'), false, 'a number is not a config');
select is(validate_connection_config('{"unknown": 1}'), false, 'an unknown option is refused');
select is(validate_connection_config('{"Timeout": 1000}'), false, 'option names are case-sensitive');

-- -----------------------------------------------------------------------------
-- timeout, retryAttempts, maxConcurrentRequests
-- -----------------------------------------------------------------------------
select is(validate_connection_config('{"timeout": "abc"}'), false, 'timeout "abc" is false, not an error');
select is(validate_connection_config('{"timeout": "5000"}'), false, 'a numeric string is not a number');
select is(validate_connection_config('{"timeout": null}'), false, 'timeout null is refused');
select is(validate_connection_config('{"timeout": true}'), false, 'timeout true is refused');
select is(validate_connection_config('{"timeout": [5000]}'), false, 'timeout in an array is refused');
select is(validate_connection_config('{"timeout": {"ms": 5000}}'), false, 'timeout as an object is refused');
select is(validate_connection_config('{"timeout": 0}'), false, 'timeout 0 is refused');
select is(validate_connection_config('{"timeout": -1}'), false, 'a negative timeout is refused');
select is(validate_connection_config('{"timeout": 99}'), false, 'timeout below 100 ms is refused');
select is(validate_connection_config('{"timeout": 120001}'), false, 'timeout above 120000 ms is refused');
select is(validate_connection_config('{"timeout": 1e400}'), false, 'a huge timeout is refused, not an overflow error');
select is(validate_connection_config('{"timeout": 1500.5}'), false, 'a fractional timeout is refused');
select is(validate_connection_config('{"retryAttempts": -1}'), false, 'negative retries are refused');
select is(validate_connection_config('{"retryAttempts": 11}'), false, 'more than ten retries are refused');
select is(validate_connection_config('{"retryAttempts": "3"}'), false, 'retries as a string are refused');
select is(validate_connection_config('{"maxConcurrentRequests": 0}'), false, 'zero concurrent requests are refused');
select is(validate_connection_config('{"maxConcurrentRequests": 1001}'), false, 'more than 1000 concurrent requests are refused');
select is(validate_connection_config('{"enableLogging": "yes"}'), false, 'enableLogging must be a boolean');

-- -----------------------------------------------------------------------------
-- customHeaders
-- -----------------------------------------------------------------------------
select is(validate_connection_config('{"customHeaders": "X-A: b"}'), false, 'customHeaders as a string is refused');
select is(validate_connection_config('{"customHeaders": ["X-A", "b"]}'), false, 'customHeaders as an array is refused');
select is(validate_connection_config('{"customHeaders": null}'), false, 'customHeaders null is refused');
select is(validate_connection_config('{"customHeaders": {"X-Number": 1}}'), false, 'a header value must be a string');
select is(validate_connection_config('{"customHeaders": {"X-Nested": {"a": "b"}}}'), false, 'a header value cannot be an object');
select is(validate_connection_config('{"customHeaders": {"Host": "evil.example"}}'), false, 'Host cannot be set');
select is(validate_connection_config('{"customHeaders": {"content-length": "0"}}'), false, 'Content-Length cannot be set, in any case');
select is(validate_connection_config('{"customHeaders": {"Transfer-Encoding": "chunked"}}'), false, 'Transfer-Encoding cannot be set');
select is(validate_connection_config('{"customHeaders": {"Mcp-Session-Id": "x"}}'), false, 'the MCP transport''s own headers cannot be set');
select is(validate_connection_config('{"customHeaders": {"Bad Name": "x"}}'), false, 'a header name with a space is refused');
select is(validate_connection_config('{"customHeaders": {"X-A": "line\r\nX-Injected: 1"}}'), false, 'a header value with CR/LF is refused');
select is(validate_connection_config('{"customHeaders": {"X-A": "héllo"}}'), false, 'a header value outside visible ASCII is refused');
select is(validate_connection_config(jsonb_build_object('customHeaders', jsonb_build_object('X-Long', repeat('a', 4097)))), false, 'a header value over 4096 characters is refused');
select is(validate_connection_config(jsonb_build_object('customHeaders', jsonb_build_object('X-' || repeat('a', 255), 'v'))), false, 'a header name over 256 characters is refused');
select is(validate_connection_config('{"customHeaders": {"X-A": "a", "x-a": "b"}}'), false, 'the same header twice, in another case, is refused');
select is(validate_connection_config(jsonb_build_object('customHeaders', (select jsonb_object_agg('X-H' || i, 'v') from generate_series(1, 33) as i))), false, 'more than 32 headers are refused');

select * from finish();
rollback;
