/** Values the integration project's globalSetup hands to every test file (`inject('s3')`). */
export interface S3Endpoint {
  /** `http://127.0.0.1:<port>` of the shared Ceph RGW; use path-style requests. */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3Endpoint;
  }
}
