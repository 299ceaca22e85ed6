// @hivebridge/client: the typed Node.js client of hivebridge's DeviceBridge
// and FleetJobs gRPC APIs. Bridge wraps the generated @grpc/grpc-js client (Bridge.client)
// with TLS and a bearer token, deadlines, keepalive, retries only where the
// bridge makes them safe (a request id), and subscriptions that resume by
// themselves after a disconnect or a slow-subscriber gap.
import { randomUUID } from "crypto";
import { readFileSync } from "fs";
import {
  ChannelCredentials,
  ChannelOptions,
  ClientReadableStream,
  credentials,
  Metadata,
  ServiceError,
  status,
} from "@grpc/grpc-js";

import { Command, ExpectedState, RequestStatus } from "./gen/hive/bridge/v1/commands";
import {
  Device,
  DeviceBridgeClient,
  ListDevicesRequest,
  Presence,
  RequestRecord,
  SendDeviceRequestRequest,
  SendDeviceRequestResponse,
  StreamPosition,
  SubscribeEventsRequest,
  SubscribeEventsResponse,
  WaitMode,
  WatchDevicesRequest,
  WatchDevicesResponse,
} from "./gen/hive/bridge/v1/device_bridge";
import { DeviceEvent, GapReason } from "./gen/hive/bridge/v1/events";
import {
  DeviceSelector,
  FleetJobsClient,
  Job,
  JobState,
  ListJobsRequest,
  StartJobRequest,
  StartJobResponse,
  WatchJobResponse,
} from "./gen/hive/bridge/v1/jobs";

export * as commands from "./commands";
export * as api from "./gen/hive/bridge/v1/device_bridge";
export * as commandsPb from "./gen/hive/bridge/v1/commands";
export * as eventsPb from "./gen/hive/bridge/v1/events";
export * as jobsPb from "./gen/hive/bridge/v1/jobs";
export {
  Job,
  JobState,
  StartJobResponse,
  WatchJobResponse,
  Command,
  Device,
  DeviceEvent,
  RequestRecord,
  RequestStatus,
  SendDeviceRequestResponse,
  StreamPosition,
  WaitMode,
  WatchDevicesResponse,
  Presence,
};
export { status as Status } from "@grpc/grpc-js";

/** A failed call: the gRPC status `code` and the bridge's `details`, which name the field, limit or device. */
export class BridgeError extends Error {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(`${status[code]}: ${details}`);
    this.name = "BridgeError";
  }

  static from(err: unknown): BridgeError {
    const e = err as Partial<ServiceError>;
    if (err instanceof BridgeError) return err;
    return new BridgeError(e.code ?? status.UNKNOWN, e.details ?? String(err));
  }
}

/**
 * How send() retries a request that has a request id. Only such a request
 * is retried: the bridge never delivers one request id twice. Retried
 * codes: UNAVAILABLE and RESOURCE_EXHAUSTED; never ABORTED (the device may
 * hold the request). All attempts share the call's deadline.
 */
export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
}
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 5000, multiplier: 2 };
const RETRYABLE = new Set([status.UNAVAILABLE, status.RESOURCE_EXHAUSTED]);
// A subscription's stream ended for a reason a new stream can fix.
const RESUMABLE = new Set([status.UNAVAILABLE, status.RESOURCE_EXHAUSTED, status.CANCELLED, status.INTERNAL]);

/** Full jitter below the exponential ceiling, before retry number `attempt` (1 = the first). */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (attempt - 1));
  return Math.random() * ceiling;
}

/** PEM contents (Buffer or string) or, for a string without "-----BEGIN", a file path. */
export type Pem = Buffer | string;
export interface TlsOptions {
  /** The CA to trust; the system's roots when absent. */
  rootCa?: Pem;
  /** Our certificate and key, for mTLS. */
  clientCert?: Pem;
  clientKey?: Pem;
  /** The name the bridge's certificate must carry, when not the target's host. */
  serverName?: string;
}

export interface BridgeOptions {
  /** Sent as `authorization: Bearer <token>` on every call (the bridge's --backend-policy-file). */
  token?: string;
  /** true: TLS with the system's roots; or TlsOptions. Absent: plaintext (loopback only). */
  tls?: boolean | TlsOptions;
  /** Default deadline of each unary call, retries included; 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  channelOptions?: ChannelOptions;
}

/**
 * Keepalive: while a call is open (a subscription), ping after 60 s of
 * silence so a dead bridge is noticed and the stream resumes; never sooner
 * than the bridge's --grpc-min-ping-interval (30 s) and never on an idle
 * connection, which the bridge would count as ping strikes. Reconnect to a
 * restarted bridge within 10 s rather than gRPC's default 120 s.
 */
export const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
  "grpc.keepalive_permit_without_calls": 0,
  "grpc.max_reconnect_backoff_ms": 10_000,
};

function pem(value: Pem | undefined): Buffer | null {
  if (value === undefined) return null;
  if (Buffer.isBuffer(value)) return value;
  return value.includes("-----BEGIN") ? Buffer.from(value) : readFileSync(value);
}

function channelCredentials(tls: BridgeOptions["tls"]): [ChannelCredentials, ChannelOptions] {
  if (!tls) return [credentials.createInsecure(), {}];
  const o: TlsOptions = tls === true ? {} : tls;
  const creds = credentials.createSsl(pem(o.rootCa), pem(o.clientKey), pem(o.clientCert));
  return [creds, o.serverName ? { "grpc.ssl_target_name_override": o.serverName } : {}];
}

/** A fresh idempotency key: pass it as requestId to make send() retryable. */
export function newRequestId(): string {
  return randomUUID();
}

export type Wait = "ack" | "result" | "none" | WaitMode;
const WAITS: Record<string, WaitMode> = {
  ack: WaitMode.WAIT_MODE_ACK,
  result: WaitMode.WAIT_MODE_RESULT,
  none: WaitMode.WAIT_MODE_NONE,
};

export interface SendInput {
  deviceId: string;
  command: Command;
  /** Makes the call retryable; see newRequestId(). */
  requestId?: string;
  wait?: Wait;
  accountId?: string;
  state?: ExpectedState;
  connectTimeoutMs?: number;
  /**
   * Queue the request when the device is offline (answered QUEUED, delivered
   * when it connects) unless this long passes first; needs the bridge's --state-dir.
   */
  queueTtlMs?: number;
  outcomeEvents?: boolean;
  timeoutMs?: number;
}

function duration(ms: number | undefined) {
  if (ms === undefined) return undefined;
  return { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) };
}

/** The SendDeviceRequestRequest for send()'s input; exported for tests and raw-client users. */
export function sendRequest(input: SendInput): SendDeviceRequestRequest {
  if (!input.command || typeof input.command !== "object") {
    throw new TypeError("command: expected a Command (see commands.*)");
  }
  const wait = input.wait ?? "ack";
  const mode = typeof wait === "number" ? wait : WAITS[wait];
  if (mode === undefined) throw new RangeError(`wait "${wait}": expected "ack", "result" or "none"`);
  return SendDeviceRequestRequest.fromPartial({
    deviceId: input.deviceId,
    command: input.command,
    requestId: input.requestId ?? "",
    wait: mode,
    accountId: input.accountId ?? "",
    state: input.state,
    connectTimeout: duration(input.connectTimeoutMs),
    queueTtl: duration(input.queueTtlMs),
    outcomeEvents: input.outcomeEvents ?? false,
  });
}

export interface StartJobInput {
  command: Command;
  /** Exactly these devices; or a selector (not both). */
  deviceIds?: string[];
  /** A filter over the twins: accountId, presence, version, fields (TwinFieldMatch). */
  selector?: Partial<DeviceSelector>;
  /** Required: how long a device's request waits in the queue for the device (at least 1 s). */
  queueTtlMs: number;
  /** Devices sent the command per second, above 0. */
  maxRate: number;
  /** 0: the bridge's default (100). */
  maxInFlight?: number;
  /** Cumulative percents ascending to 100, each with an optional pause after it. */
  waves?: { percent: number; pauseMs?: number }[];
  /** Abort once more than maxFailureRatio of the last `window` outcomes (0: 20) failed. */
  abort?: { window?: number; maxFailureRatio: number };
  includeJoining?: boolean;
  wait?: Wait;
  /** The idempotency key (a UUID); generated by the bridge when absent. */
  jobId?: string;
  state?: ExpectedState;
  /** Select the devices and return them (StartJobResponse.deviceIds); start nothing. */
  dryRun?: boolean;
  description?: string;
  timeoutMs?: number;
}

/** The StartJobRequest for startJob()'s input; exported for tests and raw-client users. */
export function startJobRequest(input: StartJobInput): StartJobRequest {
  if (!input.command || typeof input.command !== "object") {
    throw new TypeError("command: expected a Command (see commands.*)");
  }
  if ((input.deviceIds === undefined) === (input.selector === undefined)) {
    throw new TypeError("target: give deviceIds or selector (exactly one)");
  }
  if (input.queueTtlMs === undefined) throw new TypeError("queueTtlMs: required");
  const wait = input.wait ?? "ack";
  const mode = typeof wait === "number" ? wait : WAITS[wait];
  if (mode === undefined) throw new RangeError(`wait "${wait}": expected "ack", "result" or "none"`);
  return StartJobRequest.fromPartial({
    jobId: input.jobId ?? "",
    target: input.deviceIds !== undefined ? { devices: { deviceIds: input.deviceIds } } : { selector: input.selector },
    command: input.command,
    state: input.state,
    wait: mode,
    queueTtl: duration(input.queueTtlMs),
    rollout: {
      maxRate: input.maxRate,
      maxInFlight: input.maxInFlight ?? 0,
      waves: (input.waves ?? []).map((w) => ({ percent: w.percent, pauseAfter: duration(w.pauseMs) })),
      abort: input.abort && { window: input.abort.window ?? 0, maxFailureRatio: input.abort.maxFailureRatio },
      includeJoining: input.includeJoining ?? false,
    },
    dryRun: input.dryRun ?? false,
    description: input.description ?? "",
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A connection to one hivebridge. */
export class Bridge {
  readonly client: DeviceBridgeClient;
  /** The generated FleetJobs client (fleet jobs; the bridge needs --state-dir). */
  readonly jobs: FleetJobsClient;
  private readonly metadata: () => Metadata;
  private readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  /** Tests replace it. */
  sleep: (ms: number) => Promise<void> = sleep;

  constructor(target: string, opts: BridgeOptions = {}, client?: DeviceBridgeClient, jobs?: FleetJobsClient) {
    const [creds, tlsOptions] = channelCredentials(opts.tls);
    const channelOptions = { ...CHANNEL_OPTIONS, ...tlsOptions, ...opts.channelOptions };
    this.client = client ?? new DeviceBridgeClient(target, creds, channelOptions);
    // The same channel as the DeviceBridge client, when that is a real one.
    this.jobs =
      jobs ??
      (client === undefined
        ? new FleetJobsClient(target, creds, { channelOverride: this.client.getChannel() })
        : new FleetJobsClient(target, creds, channelOptions));
    const token = opts.token;
    this.metadata = () => {
      const md = new Metadata();
      if (token) md.set("authorization", `Bearer ${token}`);
      return md;
    };
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  close(): void {
    this.client.close();
    this.jobs.close();
  }

  private unary<Req, Res>(
    method: (req: Req, md: Metadata, o: { deadline: Date }, cb: (e: ServiceError | null, r: Res) => void) => unknown,
    request: Req,
    deadline: Date,
    on: object = this.client,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(on, request, this.metadata(), { deadline }, (err: ServiceError | null, reply: Res) =>
        err ? reject(err) : resolve(reply),
      );
    });
  }

  /**
   * Sends a command and waits as `wait` says ("ack" by default). Retried on
   * UNAVAILABLE / RESOURCE_EXHAUSTED only with a requestId. Rejects with a
   * BridgeError: Status.NOT_FOUND when the device is not connected, and so on.
   */
  async send(input: SendInput): Promise<SendDeviceRequestResponse> {
    const request = sendRequest(input);
    const end = Date.now() + (input.timeoutMs ?? this.timeoutMs);
    const maxAttempts = request.requestId ? this.retry.maxAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.unary(this.client.sendDeviceRequest, request, new Date(end));
      } catch (err) {
        const e = BridgeError.from(err);
        const pause = backoffMs(this.retry, attempt);
        if (!RETRYABLE.has(e.code) || attempt >= maxAttempts || Date.now() + pause >= end) throw e;
        await this.sleep(pause);
      }
    }
  }

  /** Every device the request matches, all pages. */
  async listDevices(req: Partial<ListDevicesRequest> = {}, timeoutMs?: number): Promise<Device[]> {
    const deadline = new Date(Date.now() + (timeoutMs ?? this.timeoutMs));
    const devices: Device[] = [];
    let pageToken = req.pageToken ?? "";
    for (;;) {
      try {
        const page = await this.unary(
          this.client.listDevices,
          ListDevicesRequest.fromPartial({ ...req, pageToken }),
          deadline,
        );
        devices.push(...page.devices);
        if (!page.nextPageToken) return devices;
        pageToken = page.nextPageToken;
      } catch (err) {
        throw BridgeError.from(err);
      }
    }
  }

  /** One device and its twin. */
  async getDevice(deviceId: string, timeoutMs?: number): Promise<Device> {
    try {
      const reply = await this.unary(
        this.client.getDevice,
        { deviceId },
        new Date(Date.now() + (timeoutMs ?? this.timeoutMs)),
      );
      return reply.device!;
    } catch (err) {
      throw BridgeError.from(err);
    }
  }

  /**
   * What became of a request so far: record.status is QUEUED, SENT, ACKED,
   * SUCCEEDED, FAILED, EXPIRED, CANCELLED or UNCONFIRMED. Rejects with
   * Status.NOT_FOUND when the bridge does not know the id.
   */
  async getRequest(requestId: string, timeoutMs?: number): Promise<RequestRecord> {
    try {
      const reply = await this.unary(
        this.client.getRequest,
        { requestId },
        new Date(Date.now() + (timeoutMs ?? this.timeoutMs)),
      );
      return reply.request!;
    } catch (err) {
      throw BridgeError.from(err);
    }
  }

  /**
   * Cancels a queued request (send() with queueTtlMs) so it is never
   * delivered; resolves to it as it stands afterwards (CANCELLED).
   * FAILED_PRECONDITION when it was already handed to the device; NOT_FOUND
   * when the bridge does not know the id.
   */
  async cancelRequest(requestId: string, timeoutMs?: number): Promise<RequestRecord> {
    try {
      const reply = await this.unary(
        this.client.cancelRequest,
        { requestId },
        new Date(Date.now() + (timeoutMs ?? this.timeoutMs)),
      );
      return reply.request!;
    } catch (err) {
      throw BridgeError.from(err);
    }
  }

  /** The twins of the matching devices: a snapshot, then their changes; see DeviceWatch. */
  watchDevices(req: Partial<WatchDevicesRequest> = {}): DeviceWatch {
    return new DeviceWatch(this.client.watchDevices(WatchDevicesRequest.fromPartial(req), this.metadata()));
  }

  /**
   * Starts a fleet job (one command to many devices, paced, in waves, with
   * an abort rule), or with dryRun returns the devices it would select
   * (reply.deviceIds). With a jobId, starting it again returns the same job.
   * Rejects with a BridgeError (INVALID_ARGUMENT, FAILED_PRECONDITION without
   * --state-dir, RESOURCE_EXHAUSTED at --max-job-devices, ...).
   */
  async startJob(input: StartJobInput): Promise<StartJobResponse> {
    const request = startJobRequest(input);
    try {
      return await this.unary(
        this.jobs.startJob,
        request,
        new Date(Date.now() + (input.timeoutMs ?? this.timeoutMs)),
        this.jobs,
      );
    } catch (err) {
      throw BridgeError.from(err);
    }
  }

  /** The job as it stands (state, wave, counters); NOT_FOUND for an unknown id. */
  async getJob(jobId: string, timeoutMs?: number): Promise<Job> {
    try {
      const reply = await this.unary(
        this.jobs.getJob,
        { jobId },
        new Date(Date.now() + (timeoutMs ?? this.timeoutMs)),
        this.jobs,
      );
      return reply.job!;
    } catch (err) {
      throw BridgeError.from(err);
    }
  }

  /**
   * Every job (req.states to keep some), newest first, all pages. A listed
   * job's spec has no explicit device list (getJob has it).
   */
  async listJobs(req: Partial<ListJobsRequest> = {}, timeoutMs?: number): Promise<Job[]> {
    const deadline = new Date(Date.now() + (timeoutMs ?? this.timeoutMs));
    const jobs: Job[] = [];
    let pageToken = req.pageToken ?? "";
    for (;;) {
      try {
        const page = await this.unary(
          this.jobs.listJobs,
          ListJobsRequest.fromPartial({ ...req, pageToken }),
          deadline,
          this.jobs,
        );
        jobs.push(...page.jobs);
        if (!page.nextPageToken) return jobs;
        pageToken = page.nextPageToken;
      } catch (err) {
        throw BridgeError.from(err);
      }
    }
  }

  /** Stops a running job; resolves to it (CANCELLED, or as it ended before). */
  async cancelJob(jobId: string, timeoutMs?: number): Promise<Job> {
    try {
      const reply = await this.unary(
        this.jobs.cancelJob,
        { jobId },
        new Date(Date.now() + (timeoutMs ?? this.timeoutMs)),
        this.jobs,
      );
      return reply.job!;
    } catch (err) {
      throw BridgeError.from(err);
    }
  }

  /** The job's changes until it ends, resuming a broken stream; see JobWatch. */
  watchJob(jobId: string, opts: { resumeAfter?: number; resume?: boolean } = {}): JobWatch {
    return new JobWatch(this, this.jobs, jobId, opts.resumeAfter ?? 0, opts.resume ?? true, this.metadata);
  }

  /**
   * An endless, resuming async iterable of events; see Subscription.
   * opts.resume (default true): reopen a broken stream. opts.recoverGaps
   * (default true, with resume): recover the events of a slow-subscriber gap
   * from the bridge's history instead of delivering the gap.
   */
  subscribe(req: Partial<SubscribeEventsRequest> = {}, opts: { resume?: boolean; recoverGaps?: boolean } = {}): Subscription {
    return new Subscription(
      this,
      this.client,
      SubscribeEventsRequest.fromPartial(req),
      opts.resume ?? true,
      this.metadata,
      opts.recoverGaps ?? true,
    );
  }
}

/**
 * Device events, for `for await`. When the stream breaks (the bridge
 * restarted, the network dropped), a new one is opened with resumeAfter =
 * the last event delivered: the bridge replays what was missed, or sends a
 * `gap` event first when it cannot (event.gap is set), e.g. after a
 * restart. Errors a new stream cannot fix (UNAUTHENTICATED,
 * INVALID_ARGUMENT, ...) are thrown as BridgeError. cancel(), or leaving a
 * `for await` loop, ends it; next() reads one event at a time instead.
 *
 * A slow-subscriber gap (the bridge's queue for this subscriber overflowed)
 * is not delivered when an event was delivered since the subscription
 * opened or since its last such recovery: a new stream opens at once after
 * that event and the bridge replays the missed events from its history
 * (gapRecoveries counts these; subscribe's recoverGaps: false turns it off).
 * Otherwise the gap is delivered, so a subscriber slower than the events for
 * good gets the bridge's HISTORY_EXPIRED gap rather than endless replays.
 */
export class Subscription implements AsyncIterable<DeviceEvent> {
  /** The last delivered event's position: store it to resume later. */
  position: StreamPosition | undefined;
  /** How many times a broken stream was reopened. */
  reconnects = 0;
  /** How many slow-subscriber gaps were recovered from the bridge's history instead of delivered. */
  gapRecoveries = 0;
  private call: ClientReadableStream<SubscribeEventsResponse> | undefined;
  private cancelled = false;
  private events: AsyncGenerator<DeviceEvent> | undefined;
  // An event (not a gap) delivered since the subscription opened or since
  // its last gap recovery: resuming after it makes progress.
  private progressed = false;

  constructor(
    private readonly bridge: Bridge,
    private readonly client: DeviceBridgeClient,
    private readonly request: SubscribeEventsRequest,
    private readonly resume: boolean,
    private readonly metadata: () => Metadata,
    private readonly recoverGaps = true,
  ) {
    this.position = request.resumeAfter;
  }

  cancel(): void {
    this.cancelled = true;
    this.call?.cancel();
  }

  // One iterator for the object's life, shared by next() and `for await`.
  [Symbol.asyncIterator](): AsyncIterator<DeviceEvent> {
    this.events ??= this.run();
    return this.events;
  }

  /** The next event (for use outside `for await`). */
  async next(): Promise<DeviceEvent> {
    const r = await this[Symbol.asyncIterator]().next();
    if (r.done) throw new BridgeError(status.CANCELLED, "subscription cancelled");
    return r.value;
  }

  /**
   * Whether `event` is a slow-subscriber gap to recover from instead of
   * delivering it: only after progress, which bounds the replays. The
   * position stays at the last event delivered: the gap's would skip what
   * it names.
   */
  private recovers(event: DeviceEvent): boolean {
    if (!this.resume || !this.recoverGaps || !this.progressed) return false;
    if (event.gap?.reason !== GapReason.GAP_REASON_SLOW_SUBSCRIBER) return false;
    this.progressed = false;
    this.gapRecoveries++;
    return true;
  }

  private async *run(): AsyncGenerator<DeviceEvent> {
    let failures = 0;
    while (!this.cancelled) {
      const request = { ...this.request, resumeAfter: this.position };
      this.call = this.client.subscribeEvents(request, this.metadata());
      let recovering = false;
      try {
        for await (const reply of this.call as AsyncIterable<SubscribeEventsResponse>) {
          failures = 0;
          const event = reply.event!;
          if (this.recovers(event)) {
            recovering = true;
            break;
          }
          if (event.epoch) this.position = { epoch: event.epoch, sequence: event.sequence };
          if (!event.gap) this.progressed = true;
          yield event;
        }
      } catch (err) {
        if (this.cancelled) return;
        const e = BridgeError.from(err);
        if (!this.resume || !RESUMABLE.has(e.code)) throw e;
      } finally {
        // Ended, failed, left for a gap recovery, or the consumer stopped
        // iterating: release the call.
        this.call.cancel();
      }
      // A gap recovery is no failure: the next stream opens at once.
      if (recovering) continue;
      if (!this.resume || this.cancelled) return;
      failures++;
      this.reconnects++;
      await this.bridge.sleep(backoffMs(this.bridge.retry, Math.min(failures, 8)));
    }
  }
}

/**
 * A WatchDevices stream, for `for await`: first the twin of every matching
 * device the bridge knows (`device` set, no `event`), then one message with
 * `snapshotComplete: true`, then a device's twin again with the event that
 * changed it whenever one changes. snapshot() reads up to that marker and
 * returns the snapshot's devices. A watcher that reads too slowly is sent
 * the snapshot again and another marker. It does not reopen by itself: a
 * failure is thrown as BridgeError (RESOURCE_EXHAUSTED at the bridge's
 * --max-subscribers). cancel(), or leaving a `for await` loop, ends it.
 */
export class DeviceWatch implements AsyncIterable<WatchDevicesResponse> {
  private cancelled = false;
  private readonly replies: AsyncGenerator<WatchDevicesResponse>;

  constructor(private readonly call: ClientReadableStream<WatchDevicesResponse>) {
    this.replies = this.run();
  }

  cancel(): void {
    this.cancelled = true;
    this.call.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchDevicesResponse> {
    return this.replies;
  }

  /** The next message (for use outside `for await`). */
  async next(): Promise<WatchDevicesResponse> {
    const r = await this.replies.next();
    if (r.done) throw new BridgeError(status.CANCELLED, "the watch ended");
    return r.value;
  }

  /** The snapshot's devices: reads up to the snapshotComplete marker. */
  async snapshot(): Promise<Device[]> {
    const devices: Device[] = [];
    for (;;) {
      const reply = await this.next();
      if (reply.snapshotComplete) return devices;
      devices.push(reply.device!);
    }
  }

  private async *run(): AsyncGenerator<WatchDevicesResponse> {
    try {
      for await (const reply of this.call as AsyncIterable<WatchDevicesResponse>) yield reply;
    } catch (err) {
      if (this.cancelled) return;
      throw BridgeError.from(err);
    } finally {
      this.call.cancel();
    }
  }
}

/**
 * A job's changes (WatchJob), for `for await`: the job, then each device's
 * outcome (`outcome` set) and each change of its state, each with the job
 * after it (without its spec: getJob has it). The iteration ends when the bridge ends the stream: the job
 * ended. A broken stream is reopened after the last `sequence` delivered,
 * as a Subscription is; errors a new stream cannot fix (NOT_FOUND, ...) are
 * thrown as BridgeError. cancel(), or leaving the loop, ends it sooner.
 */
export class JobWatch implements AsyncIterable<WatchJobResponse> {
  /** The last delivered message's sequence: resume a later watch after it. */
  sequence: number;
  /** The job as of the last delivered message, without its spec (getJob has it). */
  job: Job | undefined;
  reconnects = 0;
  private call: ClientReadableStream<WatchJobResponse> | undefined;
  private cancelled = false;
  private replies: AsyncGenerator<WatchJobResponse> | undefined;

  constructor(
    private readonly bridge: Bridge,
    private readonly client: FleetJobsClient,
    private readonly jobId: string,
    resumeAfter: number,
    private readonly resume: boolean,
    private readonly metadata: () => Metadata,
  ) {
    this.sequence = resumeAfter;
  }

  cancel(): void {
    this.cancelled = true;
    this.call?.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchJobResponse> {
    this.replies ??= this.run();
    return this.replies;
  }

  private async *run(): AsyncGenerator<WatchJobResponse> {
    let failures = 0;
    while (!this.cancelled) {
      this.call = this.client.watchJob({ jobId: this.jobId, resumeAfter: this.sequence }, this.metadata());
      try {
        for await (const reply of this.call as AsyncIterable<WatchJobResponse>) {
          failures = 0;
          this.sequence = reply.sequence;
          this.job = reply.job;
          yield reply;
        }
        return; // the bridge ended the stream OK: the job ended
      } catch (err) {
        if (this.cancelled) return;
        const e = BridgeError.from(err);
        if (!this.resume || !RESUMABLE.has(e.code)) throw e;
      } finally {
        this.call.cancel();
      }
      failures++;
      this.reconnects++;
      await this.bridge.sleep(backoffMs(this.bridge.retry, Math.min(failures, 8)));
    }
  }
}
