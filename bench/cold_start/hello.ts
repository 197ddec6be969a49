/** The cold start's reference: a bare `Deno.serve` hello world, hosted as a function is. */
Deno.serve(() => new Response("hello"));
