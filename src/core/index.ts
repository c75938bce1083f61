export { type Clock, ManualClock, systemClock } from "./clock.js";
export { type Random, seededRandom, systemRandom } from "./random.js";
