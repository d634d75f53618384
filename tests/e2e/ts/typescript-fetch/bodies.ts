// Queue messages with any JSON body and string headers: type-checks only once the spec says
// the body is any JSON value and the headers are strings. Arguments: open API URL.
import { Configuration, RabbitmqApi } from "./client";

const [openUrl] = process.argv.slice(2);

async function main(): Promise<void> {
  const api = new RabbitmqApi(new Configuration({ basePath: openUrl }));
  const name = `ts-bodies-${Date.now()}`;
  await api.declareQueue({ name });
  const bodies = ["text", 42, [1, "two"], { hello: "world" }];
  for (const body of bodies) {
    await api.publishMessage({ name, payload: { body, headers: { source: "ts" } } });
  }
  const { messages } = await api.takeMessages({ name, payload: { count: 10 } });
  await api.deleteQueue({ name });
  const source: string | undefined = messages[0]?.headers["source"];
  if (JSON.stringify(messages.map((m) => m.body)) !== JSON.stringify(bodies) || source !== "ts") {
    throw new Error(`failed: bodies ${JSON.stringify(messages)}`);
  }
  console.log("typescript-fetch bodies: every step passed");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
