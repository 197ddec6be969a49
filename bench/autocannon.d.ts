/**
 * The part of autocannon 9's API the benchmarks use (the package ships no types).
 */
export interface AutocannonOptions {
  url: string;
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  pipelining?: number;
  /** Requests to make in all; when set, `duration` is ignored. */
  amount?: number;
  /** Seconds. */
  duration?: number;
  /** Seconds before a request counts as timed out. */
  timeout?: number;
  /** Milliseconds between samples (default 1000). */
  sampleInt?: number;
  workers?: number;
}

export interface AutocannonHistogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  total: number;
}

export interface AutocannonResult {
  latency: AutocannonHistogram;
  requests: AutocannonHistogram;
  throughput: AutocannonHistogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  duration: number;
}

export interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(
    event: "response",
    listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void,
  ): this;
  on(event: "reqError", listener: (error: Error) => void): this;
  stop(): void;
}

declare function autocannon(options: AutocannonOptions): AutocannonInstance;
export default autocannon;
