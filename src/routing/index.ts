export { AllCandidatesFailedError, type RouteFailure } from "./errors.js";
export {
  type CallOutcome,
  createRouter,
  type FailoverOptions,
  type Router,
  type RouterConfig,
} from "./router.js";
export {
  ewma,
  explore,
  orderByKey,
  type Reputation,
  type RoutingStrategy,
  reputationScore,
  rotateAfter,
  routingStrategies,
  sortById,
  unknownReputation,
  updateReputation,
} from "./strategies.js";
