import protobuf from "protobufjs/minimal.js";
import type { MessageType } from "./message-type.js";

/**
 * Whether a generated class is bound to the runtime's copy of protobufjs. An app with protobufjs in
 * its own node_modules (or troupe installed from a folder, with node_modules of its own) generates
 * classes against another copy: their `decode` checks `reader instanceof $Reader` with that copy's
 * class and throws "illegal buffer" on ours, and their `encode` calls whatever writer methods their
 * version of pbjs emitted. Such classes get bytes in and out, never the runtime's Reader or Writer.
 *
 * Decoding nothing tells them apart without reading a message: our copy accepts our Reader; another
 * copy refuses it before reading a byte. A proto2 class with required fields rejects the empty input
 * with our copy's ProtocolError, which still means it is ours.
 */
export function sharesOurProtobuf(type: MessageType): boolean {
  try {
    type.decode(protobuf.Reader.create(NO_BYTES));
    return true;
  } catch (error) {
    return error instanceof protobuf.util.ProtocolError;
  }
}

const NO_BYTES = new Uint8Array(0);

/** Appended to a decode failure of such a class: what differs from the usual case, and what to check. */
export const OTHER_COPY_HINT =
  "its generated class uses another copy of protobufjs than Troupe's, and the two may differ in version: " +
  "`npm ls protobufjs` lists the copies; one version for both (then `npm dedupe`) rules that out";
