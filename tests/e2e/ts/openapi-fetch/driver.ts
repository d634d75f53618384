// Drives every namespace of a live server with openapi-fetch, typed by openapi-typescript from
// the served OpenAPI 3 document (./schema.d.ts). Arguments: open API URL, keyed API URL, API key.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Problem = components["schemas"]["Problem"];
const [openUrl, keyedUrl, apiKey] = process.argv.slice(2);

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`failed: ${what}`);
}

function problem(error: Problem | undefined, status: number, what: string): Problem {
  check(error !== undefined && error.status === status, `${what}: ${JSON.stringify(error)}`);
  return error as Problem;
}

async function main(): Promise<void> {
  const api = createClient<paths>({ baseUrl: openUrl });
  const prefix = `of${Date.now() % 1000000}`;

  const created = [];
  for (const [suffix, age] of [["a", 30], ["b", 40], ["c", null]] as const) {
    const { data } = await api.POST("/wdtests", { body: { name: `${prefix}${suffix}`, age } });
    check(data !== undefined && data.age === age, "create");
    created.push(data!);
  }
  const [a, b, c] = created;
  const put = await api.PUT("/wdtests/{wdtest_id}", {
    params: { path: { wdtest_id: a.id } },
    body: { name: `${prefix}a`, age: 31 },
  });
  check(put.data?.age === 31, "put");
  const patch = await api.PATCH("/wdtests/{wdtest_id}", { params: { path: { wdtest_id: b.id } }, body: { age: 41 } });
  check(patch.data?.age === 41, "patch");
  const page = await api.GET("/wdtests", {
    params: { query: { name__startswith: prefix, sort: ["-age", "id"], per_page: 2 } },
  });
  check(page.data?.total === 3 && page.data.pages === 2, `list ${JSON.stringify(page.error)}`);
  check(page.data?.items.map((r) => r.age).join() === "41,31", "sort");
  const filtered = await api.GET("/wdtests", { params: { query: { name__startswith: prefix, age__gte: 35 } } });
  check(filtered.data?.total === 1, "filter");
  await api.DELETE("/wdtests/{wdtest_id}", { params: { path: { wdtest_id: c.id } } });
  const missing = await api.GET("/wdtests/{wdtest_id}", { params: { path: { wdtest_id: c.id } } });
  problem(missing.error, 404, "404 problem");
  // The path pattern: clients send path values unchecked.
  const refused = await api.GET("/wdtests/{wdtest_id}", { params: { path: { wdtest_id: "not an id!" } } });
  check(problem(refused.error, 400, "400 problem").errors?.["wdtest_id"] !== undefined, "400 errors");

  const anonymous = createClient<paths>({ baseUrl: keyedUrl });
  problem((await anonymous.POST("/wdtests", { body: { name: "of-401" } })).error, 401, "401 problem");
  const keyed = createClient<paths>({ baseUrl: keyedUrl, headers: { "X-API-Key": apiKey } });
  check((await keyed.POST("/wdtests", { body: { name: "of-201" } })).response.status === 201, "201");

  for (const base of ["with space", "a/b/c", "clé-ü-日本"]) {
    const key = `${base}-${Date.now()}`;
    const path = { params: { path: { key } } };
    const stored = await api.PUT("/redis/keys/{key}", { ...path, body: { value: "v1", ttl: 60 } });
    check(stored.data?.key === key, `put ${base}`);
    check((await api.GET("/redis/keys/{key}", path)).data?.value === "v1", `get ${base}`);
    await api.DELETE("/redis/keys/{key}", path);
    problem((await api.GET("/redis/keys/{key}", path)).error, 404, `deleted ${base}`);
  }

  const queue = { params: { path: { name: `of-${Date.now()}` } } };
  check((await api.PUT("/rabbitmq/queues/{name}", { ...queue, body: { max_length: 10 } })).data?.messages === 0, "declare");
  const bodies = ["text", 42, [1, "two"], { hello: "world" }];
  for (const body of bodies) {
    const sent = await api.POST("/rabbitmq/queues/{name}/messages", { ...queue, body: { body, headers: { source: "of" } } });
    check(sent.response.status === 202, "publish");
  }
  const got = await api.POST("/rabbitmq/queues/{name}/messages/get", { ...queue, body: { count: 10 } });
  const messages = got.data?.messages ?? [];
  check(JSON.stringify(messages.map((m) => m.body)) === JSON.stringify(bodies), "bodies");
  const source: string | undefined = messages[0]?.headers["source"];
  check(source === "of", "string headers");
  await api.DELETE("/rabbitmq/queues/{name}", queue);

  check((await api.GET("/demo/index/{index_id}", { params: { path: { index_id: "042" } } })).data?.id === 42, "index");
  check((await api.GET("/exceptions/divide", { params: { query: { a: 7, b: 2 } } })).data?.result === 3.5, "divide");
  console.log("openapi-fetch driver: every step passed");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
