// Types of herald.js: the browser client of Herald, for any Mercure hub.

/** The state of the connection (shared by every tab when they share it). */
export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'failed' | 'closed';

/**
 * Who holds the connection: this client ('leader'), another tab's client
 * ('follower', events are relayed to it), or this client alone because the
 * browser lacks Web Locks or BroadcastChannel, or sharing is off ('solo').
 */
export type Role = 'leader' | 'follower' | 'solo';

/** An update received from the hub. */
export interface HeraldEvent {
  /** The event type ('message' unless the publisher set one). */
  readonly type: string;
  /** The data, exactly as published (lines joined with LF). */
  readonly data: string;
  /** The update's id ('' when the event had no id field). */
  readonly id: string;
  /**
   * True when the event came from the hub's history on a resumed
   * connection (before its herald-live event), false when it is live.
   */
  readonly replayed: boolean;
  /**
   * The topics (selectors) of the connection that select the event, as the
   * hub says (Herald's matched field); absent from other hubs, whose events
   * then reach every subscription of the connection.
   */
  readonly topics?: string[];
  /** JSON.parse(data). */
  json<T = unknown>(): T;
}

/** Handlers by event type; '*' receives the types without a handler. */
export type Handlers = Record<string, (event: HeraldEvent) => void>;

/** Details of a state change. */
export interface StateInfo {
  /** When reconnecting: in how many ms the next attempt starts. */
  retryIn?: number;
  /** The HTTP status of the error that caused it (0: network error). */
  status?: number;
  /** The hub's explanation, or the network error's message. */
  message?: string;
}

/** An error reported to onError. */
export interface HeraldError extends Error {
  /** The HTTP status (0 for a network error, a CORS refusal, or getToken failing). */
  status: number;
  /** The Retry-After the hub asked for, in ms (0 when none). */
  retryAfter?: number;
}

export interface Options {
  /** The hub's URL. Default: '/.well-known/mercure' on the page's origin. */
  hub?: string | URL;
  /**
   * Returns the subscriber token (a JWT), or null for none. Called before
   * the first connection, ahead of the token's exp (renewBefore), and once
   * more when the hub answers 401 or 403. With tokenIn 'cookie' it renews
   * the cookie (through the app's backend) and returns the token only so
   * that its exp can be read.
   */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** How the token travels: 'header' (Authorization: Bearer, the default), 'query' (?authorization=) or 'cookie'. */
  tokenIn?: 'header' | 'query' | 'cookie';
  /** Renew the token this many ms before it expires (at most half its remaining life). Default 30000. */
  renewBefore?: number;
  /** fetch's credentials mode: 'include' sends the hub's cookie to another origin. Default 'same-origin'. */
  credentials?: RequestCredentials;
  /** Resume from this id on the first connection ('earliest': all history). */
  lastEventID?: string;
  /**
   * Share one connection among the tabs of this origin (Web Locks elect the
   * tab that holds it, BroadcastChannel relays its events). true (default)
   * shares among clients of the same hub URL; a string names the group;
   * false gives this client a connection of its own.
   */
  share?: boolean | string;
  /** First reconnection delay in ms (doubled on each failure, with jitter). Default 1000. */
  initialDelay?: number;
  /** Longest reconnection delay in ms. Default 30000. */
  maxDelay?: number;
  /**
   * Reconnect when the stream has been silent this long, in ms: a proxy or
   * a NAT may drop a connection without closing it. Herald sends a heartbeat
   * every 15 s by default. Default 45000; 0 turns it off.
   */
  idleTimeout?: number;
  /** Called on every state change. */
  onState?: (state: State, info: StateInfo) => void;
  /** Called with every error, including those that are retried. */
  onError?: (error: HeraldError) => void;
  /** Called when the hub no longer holds the id the connection resumed from: events may have been missed; refetch your state. */
  onGap?: (info: { lastEventID: string }) => void;
  /** Called once the history of a (re)connection has been sent: what follows is live. */
  onLive?: (info: { replayed: number }) => void;
  /** Called when this client's role changes. */
  onRole?: (role: Role) => void;
}

export interface Subscription {
  /** Stops this subscription; the connection drops its topics. */
  close(): void;
}

export interface Client {
  readonly state: State;
  readonly role: Role;
  /** The id the connection resumes from. */
  readonly lastEventID: string;
  /** How many clients (tabs) share the connection, this one included. */
  readonly clients: number;
  /**
   * Subscribes to topics (topics, URI templates or '*'). Subscriptions of
   * every sharing client share one connection to the union of their topics;
   * a change reconnects from the last event id: nothing is lost or doubled.
   * A function is the handler of 'message' events.
   */
  subscribe(topics: string | string[], handlers?: Handlers | ((event: HeraldEvent) => void)): Subscription;
  /** Closes every subscription; another tab takes the connection over. */
  close(): void;
}

export function createClient(options?: Options): Client;

/** A WHATWG Server-Sent Events parser; push it decoded text. */
export function createParser(
  onEvent: (event: { type: string; data: string; id: string; lastEventId: string }) => void,
  onRetry?: (ms: number) => void,
): { push(chunk: string): void };

/** The delay before reconnection attempt number attempt (from 0), in ms. */
export function backoff(attempt: number, initial?: number, max?: number, random?: () => number): number;

/** In how many ms to renew token; -1 when it has no exp or has expired. */
export function renewDelay(token: string, margin?: number, now?: number): number;

/** The sorted, deduplicated topics of a Map of topic lists. */
export function union(tabs: Map<unknown, string[]>): string[];
