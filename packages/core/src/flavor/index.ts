/**
 * @trackstack/core/flavor: what flavor authors would otherwise write for
 * themselves in every flavor. The backend's errors (`defineBackendError`),
 * what an HTTP status and Retry-After mean, what a failed connection means,
 * and the checks of an endpoint URL.
 */
export {
  type BackendErrorClass,
  type BackendErrorSpec,
  defineBackendError,
  type FlavorBackendError,
  type FlavorErrorOptions,
  type HttpErrorAnswer,
  type ParsedErrorBody,
} from './backend-error-class.js';
export {
  baseUrlOf,
  type EndpointRules,
  type EndpointUrl,
  isLoopbackHost,
  parseEndpoint,
} from './endpoint.js';
export { httpStatusCode, isRetryableStatus, parseRetryAfter } from './http-status.js';
export { describeNetworkFailure, type NetworkFailure } from './network-failure.js';
