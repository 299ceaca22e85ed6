// A TCP proxy on a loopback port the kernel picks, in front of `port`, whose
// open connections the test can cut at once (as a dropped network or a
// restarted load balancer would): the browser's streams break for real and
// the page has to reconnect. New connections are forwarded as before.
//
//   const proxy = await startCuttableProxy(bridgeHttpPort);
//   proxy.port; proxy.cut(); await proxy.close();
import net from "node:net";

export async function startCuttableProxy(port) {
  const open = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const pair = [client, upstream];
    open.add(pair);
    const drop = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    // Resets every connection open now; returns how many there were.
    cut() {
      const count = open.size;
      for (const [client, upstream] of [...open]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      return count;
    },
    close() {
      for (const [client, upstream] of open) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
