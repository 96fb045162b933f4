// `troupe/testkit`: test one actor with no system (BehaviorTestKit), control time (ManualClock), and
// run whole systems in one process (MemoryNetwork, MemoryStore).
export { BehaviorTestKit } from "./behavior-test-kit.js";
export { ManualClock } from "./manual-clock.js";
export { MemoryNetwork } from "../transport/memory-network.js";
export { MemoryStore } from "../state/memory-store.js";
