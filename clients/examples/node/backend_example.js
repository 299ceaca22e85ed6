#!/usr/bin/env node
// A hivebridge backend in Node.js on the @hivebridge/client SDK: list
// devices, stop an app and wait for the device's result, read the device's
// twin, queue a command for an offline device and cancel it, follow events
// and resume after a disconnect.
//
// Install the SDK (clients/node/README.md), e.g. `npm install ./clients/node`
// in your project, then:
//
//   node clients/examples/node/backend_example.js \
//       --server 127.0.0.1:9090 --device d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
//
// Add --token and --ca for a bridge with TLS and a backend policy.
'use strict';

const { Bridge, BridgeError, RequestStatus, Status, commands, newRequestId } = require('@hivebridge/client');

function parseArgs(argv) {
  const args = { server: '127.0.0.1:9090', device: '', token: undefined, ca: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--server') args.server = value();
    else if (flag === '--device') args.device = value();
    else if (flag === '--token') args.token = value();
    else if (flag === '--ca') args.ca = value();
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.device) throw new Error('--device UUID is required');
  return args;
}

// Subscribes, reads n events, then cancels the stream (a disconnect).
async function readEvents(bridge, n, resumeAfter) {
  const subscription = bridge.subscribe(resumeAfter ? { resumeAfter } : {});
  const events = [];
  try {
    while (events.length < n) events.push(await subscription.next());
  } finally {
    subscription.cancel();
  }
  return { events, position: subscription.position };
}

const describe = (e) =>
  `event seq=${e.sequence} epoch=${e.epoch} type=${e.type || (e.gap ? 'gap' : '-')} device=${e.deviceId}`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const tls = args.ca ? { rootCa: args.ca } : undefined;
  const bridge = new Bridge(args.server, { token: args.token, tls, timeoutMs: 15000 });
  try {
    // 1. Which devices are connected?
    const devices = await bridge.listDevices();
    for (const d of devices) console.log(`device ${d.deviceId} account=${d.accountId} address=${d.address}`);
    if (!devices.some((d) => d.deviceId === args.device)) throw new Error(`device ${args.device} is not connected`);

    // 2. Stop an app instance and wait for the device's result.
    const reply = await bridge.send({
      deviceId: args.device,
      requestId: newRequestId(), // idempotency key: retried safely, never sent twice
      wait: 'result',
      command: commands.schedulerAction('stop', {
        instance: 'ad51b914-688a-4a5f-a073-5c5121a010e2',
        application: { appstore: 'Fractal App Store', name: 'wikijs', version: 'latest' },
      }),
    });
    const status = RequestStatus[reply.status];
    console.log(`status ${status}`);
    console.log(`result ${JSON.stringify(reply.result)}`); // a plain object
    if (reply.status !== RequestStatus.REQUEST_STATUS_SUCCEEDED) {
      throw new Error(`unexpected status ${status}: ${reply.error}`);
    }

    // 3. The device's twin: what the bridge remembers of it, online or not.
    const twin = await bridge.getDevice(args.device);
    console.log(`twin online=${twin.online} protocol=${twin.protocol} replica=${twin.replica}`);

    // 4. A command for an offline device waits in the bridge's queue
    // (queueTtlMs) and is delivered when it connects; until then it can be
    // looked up and cancelled.
    const offline = newRequestId(); // any UUID: a device the bridge has not seen
    const queued = await bridge.send({
      deviceId: offline,
      requestId: newRequestId(),
      command: commands.deviceCommand('reboot'),
      queueTtlMs: 3600 * 1000,
    });
    console.log(`queued ${queued.requestId} for ${offline}: ${RequestStatus[queued.status]}`);
    const cancelled = await bridge.cancelRequest(queued.requestId);
    console.log(`cancelled: ${RequestStatus[cancelled.status]}`);
    if (cancelled.status !== RequestStatus.REQUEST_STATUS_CANCELLED) throw new Error('the queued request was not cancelled');

    // 5. Follow events, disconnect, and resume after the last one seen.
    const first = await readEvents(bridge, 2);
    first.events.forEach((e) => console.log(describe(e)));
    const position = first.position;
    console.log(`disconnected at epoch=${position.epoch} sequence=${position.sequence}`);
    const [resumed] = (await readEvents(bridge, 1, position)).events;
    console.log(`resumed ${describe(resumed)}`);
    if (!(resumed.sequence > position.sequence)) {
      throw new Error(`resumed at sequence ${resumed.sequence}, not after ${position.sequence}`);
    }
    console.log('example ok');
  } finally {
    bridge.close();
  }
}

main().catch((err) => {
  if (err instanceof BridgeError) console.error(`error: ${Status[err.code]} ${err.details}`);
  else console.error(`error: ${err.message}`);
  process.exit(1);
});
