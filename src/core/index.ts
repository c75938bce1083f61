export { type Clock, ManualClock, systemClock } from "./clock.js";
export { MinHeap } from "./min-heap.js";
export { type Random, seededRandom, systemRandom } from "./random.js";
