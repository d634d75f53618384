// Drives every namespace of a live server with the client openapi-generator's typescript-fetch
// made from the served spec (in ./client). Arguments: open API URL, keyed API URL, API key.
import {
  Configuration,
  DemoApi,
  ExceptionsApi,
  ProblemFromJSON,
  RabbitmqApi,
  RedisApi,
  ResponseError,
  WdtestsApi,
  type Problem,
} from "./client";

const [openUrl, keyedUrl, apiKey] = process.argv.slice(2);

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`failed: ${what}`);
}

async function problemOf(call: Promise<unknown>): Promise<Problem> {
  try {
    await call;
  } catch (e) {
    if (e instanceof ResponseError) return ProblemFromJSON(await e.response.json());
    throw e;
  }
  throw new Error("expected an error response");
}

async function wdtests(config: Configuration): Promise<void> {
  const api = new WdtestsApi(config);
  const prefix = `ts${Date.now() % 1000000}`;
  const a = await api.createWdtest({ payload: { name: `${prefix}a`, age: 30 } });
  const b = await api.createWdtest({ payload: { name: `${prefix}b`, age: 40 } });
  const c = await api.createWdtest({ payload: { name: `${prefix}c`, age: null } });
  check(c.age === null && a.id.length > 0, "create");
  check((await api.getWdtest({ wdtestId: a.id })).name === `${prefix}a`, "read");
  check((await api.replaceWdtest({ wdtestId: a.id, payload: { name: `${prefix}a`, age: 31 } })).age === 31, "put");
  check((await api.updateWdtest({ wdtestId: b.id, payload: { age: 41 } })).age === 41, "patch");
  const page = await api.listWdtests({ nameStartswith: prefix, sort: ["-age", "id"], perPage: 2 });
  check(page.total === 3 && page.pages === 2 && page.items.map((r) => r.age).join() === "41,31", "list");
  check((await api.listWdtests({ nameStartswith: prefix, ageGte: 35 })).total === 1, "filter");
  check((await api.listWdtests({ idIn: [a.id, b.id] })).total === 2, "id__in");
  await api.deleteWdtest({ wdtestId: c.id });
  const missing = await problemOf(api.getWdtest({ wdtestId: c.id }));
  check(missing.status === 404 && missing.detail.length > 0, "404 problem");
  const refused = await problemOf(api.getWdtest({ wdtestId: "not an id!" })); // the path pattern
  check(refused.status === 400 && refused.errors?.["wdtest_id"] !== undefined, "400 problem");
}

async function auth(keyedBase: string, key: string): Promise<void> {
  const anonymous = new WdtestsApi(new Configuration({ basePath: keyedBase }));
  const denied = await problemOf(anonymous.createWdtest({ payload: { name: "ts-401" } }));
  check(denied.status === 401, "401 problem without a key");
  const keyed = new WdtestsApi(new Configuration({ basePath: keyedBase, apiKey: key }));
  check((await keyed.createWdtest({ payload: { name: "ts-201" } })).name === "ts-201", "201 with the key");
}

async function redis(config: Configuration): Promise<void> {
  const api = new RedisApi(config);
  for (const base of ["with space", "a/b/c", "clé-ü-日本"]) {
    const key = `${base}-${Date.now()}`;
    const stored = await api.putRedisKey({ key, payload: { value: "v1", ttl: 60 } });
    check(stored.key === key && stored.ttl === 60, `put ${base}`);
    check((await api.getRedisKey({ key })).value === "v1", `get ${base}`);
    await api.deleteRedisKey({ key });
    check((await problemOf(api.getRedisKey({ key }))).status === 404, `deleted ${base}`);
  }
  check((await api.pingRedis()).latencyMs >= 0, "ping");
}

async function rabbitmq(config: Configuration): Promise<void> {
  const api = new RabbitmqApi(config);
  const name = `ts-${Date.now()}`;
  check((await api.declareQueue({ name, payload: { maxLength: 10 } })).name === name, "declare");
  check((await api.getQueue({ name })).messages === 0, "queue");
  await api.deleteQueue({ name });
  check((await problemOf(api.getQueue({ name }))).status === 404, "deleted queue");
}

async function demos(config: Configuration): Promise<void> {
  const demo = new DemoApi(config);
  check((await demo.getIndex({ indexId: "042" })).id === 42, "index");
  check((await demo.echoUserId({ userId: "ü ser" })).id === "ü ser", "user");
  check((await demo.getContext()).method === "GET", "context");
  const exceptions = new ExceptionsApi(config);
  check((await exceptions.divideNumbers({ a: 7, b: 2 })).result === 3.5, "divide");
  check((await problemOf(exceptions.divideNumbers({ a: 1, b: 0 }))).status === 400, "divide by zero");
}

async function main(): Promise<void> {
  const config = new Configuration({ basePath: openUrl });
  await wdtests(config);
  await auth(keyedUrl, apiKey);
  await redis(config);
  await rabbitmq(config);
  await demos(config);
  console.log("typescript-fetch driver: every step passed");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
