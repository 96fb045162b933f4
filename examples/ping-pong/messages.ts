// The ping-pong protocol, generated from proto/examples/ping_pong.proto by `npm run build:proto`.
import { troupe } from "../../proto/gen/examples/ping_pong.js";

export const { Ping, Pong, GetStats, Stats } = troupe.examples.pingpong;
export type Ping = troupe.examples.pingpong.Ping;
export type Pong = troupe.examples.pingpong.Pong;
export type Stats = troupe.examples.pingpong.Stats;
export type GetStats = troupe.examples.pingpong.GetStats;
