#!/usr/bin/env node
// A hivebridge backend in Node.js: list devices, stop an app and wait for the
// device's result, follow events and resume after a disconnect.
//
//   npm install   # in the repo root: pinned @grpc/grpc-js and @grpc/proto-loader
//   node clients/examples/node/backend_example.js \
//       --server 127.0.0.1:9090 --device d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
//
// The .proto files are loaded at run time from proto/ (nothing is generated).
'use strict';

const path = require('path');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');

function parseArgs(argv) {
  const args = { server: '127.0.0.1:9090', device: '', protoDir: DEFAULT_PROTO_DIR };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--server') args.server = value();
    else if (flag === '--device') args.device = value();
    else if (flag === '--proto-dir') args.protoDir = value();
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.device) throw new Error('--device UUID is required');
  return args;
}

function loadApi(protoDir) {
  const definition = protoLoader.loadSync('hive/bridge/v1/device_bridge.proto', {
    includeDirs: [protoDir],
    keepCase: true,       // field names as in the .proto: device_id, resume_after
    enums: String,        // 'REQUEST_STATUS_SUCCEEDED' rather than 3
    longs: String,        // uint64 sequence as a decimal string: no precision loss
    defaults: true,
    oneofs: true,         // event.body names the set field of the oneof
  });
  return grpc.loadPackageDefinition(definition).hive.bridge.v1;
}

const deadline = (seconds) => new Date(Date.now() + seconds * 1000);

function unary(client, method, request, seconds) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline(seconds) }, (err, response) =>
      err ? reject(new Error(`${method} failed: ${grpc.status[err.code]} ${err.details}`)) : resolve(response));
  });
}

// Subscribes, reads n events, then cancels the stream (a disconnect).
function readEvents(client, n, resumeAfter) {
  return new Promise((resolve, reject) => {
    const request = resumeAfter ? { resume_after: resumeAfter } : {};
    const call = client.SubscribeEvents(request, { deadline: deadline(15) });
    const events = [];
    let done = false;
    call.on('data', (response) => {
      if (done) return;
      events.push(response.event);
      if (events.length === n) {
        done = true;
        call.cancel();
        resolve(events);
      }
    });
    call.on('error', (err) => {
      if (!done && err.code !== grpc.status.CANCELLED) {
        done = true;
        reject(new Error(`SubscribeEvents failed: ${grpc.status[err.code]} ${err.details}`));
      }
    });
    call.on('end', () => {
      if (!done) {
        done = true;
        reject(new Error(`stream ended after ${events.length} of ${n} events`));
      }
    });
  });
}

const describe = (e) =>
  `event seq=${e.sequence} epoch=${e.epoch} type=${e.type || e.body} device=${e.device_id}`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const api = loadApi(args.protoDir);
  const client = new api.DeviceBridge(args.server, grpc.credentials.createInsecure());
  try {
    // 1. Which devices are connected?
    const { devices } = await unary(client, 'ListDevices', {}, 10);
    for (const d of devices) console.log(`device ${d.device_id} account=${d.account_id} address=${d.address}`);
    if (!devices.some((d) => d.device_id === args.device)) throw new Error(`device ${args.device} is not connected`);

    // 2. Stop an app instance and wait for the device's result.
    const response = await unary(client, 'SendDeviceRequest', {
      device_id: args.device,
      request_id: crypto.randomUUID(), // idempotency key: retries never send twice
      wait: 'WAIT_MODE_RESULT',
      command: {
        scheduler_action: {
          action: 'ACTION_STOP',
          instance: 'ad51b914-688a-4a5f-a073-5c5121a010e2',
          application: { appstore: 'Fractal App Store', name: 'wikijs', version: 'latest' },
        },
      },
    }, 15);
    console.log(`status ${response.status}`);
    // result is a google.protobuf.Struct: { fields: { name: { stringValue | ... } } }
    const result = {};
    for (const [k, v] of Object.entries((response.result && response.result.fields) || {})) result[k] = v[v.kind];
    console.log(`result ${JSON.stringify(result)}`);
    if (response.status !== 'REQUEST_STATUS_SUCCEEDED') {
      throw new Error(`unexpected status ${response.status}: ${response.error}`);
    }

    // 3. Follow events, disconnect, and resume after the last one seen.
    const first = await readEvents(client, 2);
    first.forEach((e) => console.log(describe(e)));
    const last = first[first.length - 1];
    const position = { epoch: last.epoch, sequence: last.sequence };
    console.log(`disconnected at epoch=${position.epoch} sequence=${position.sequence}`);
    const [resumed] = await readEvents(client, 1, position);
    console.log(`resumed ${describe(resumed)}`);
    if (!(BigInt(resumed.sequence) > BigInt(position.sequence))) {
      throw new Error(`resumed at sequence ${resumed.sequence}, not after ${position.sequence}`);
    }
    console.log('example ok');
  } finally {
    client.close();
  }
}

main().catch((err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
