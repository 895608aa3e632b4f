// aedes buffers a whole MQTT packet before any hook sees it, and has no
// packet size limit: one unauthenticated socket announcing a 200 MB packet
// makes the hub hold 200 MB. This guard reads each packet's fixed header
// (type byte, then the remaining length as a varint) as bytes arrive and
// destroys the socket as soon as a packet announces more than the limit.
import type { Socket } from "node:net";

/** Before CONNACK a client has sent nothing but CONNECT, which is small. */
export const MAX_CONNECT_BYTES = 4 * 1024;

export function guardPacketSize(socket: Socket, maxPacketBytes: number): void {
  let inHeader = true; // reading a fixed header, else skipping a body
  let headerBytes = 0; // bytes of the current fixed header read so far
  let length = 0; // the remaining length being decoded
  let multiplier = 1;
  let bodyLeft = 0;
  let packets = 0;

  socket.prependListener("data", (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (!inHeader) {
        const skip = Math.min(bodyLeft, chunk.length - i);
        bodyLeft -= skip;
        i += skip;
        if (bodyLeft === 0) inHeader = true;
        continue;
      }
      const byte = chunk[i++]!;
      headerBytes++;
      if (headerBytes === 1) continue; // packet type and flags
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      const limit = packets === 0 ? MAX_CONNECT_BYTES : maxPacketBytes;
      if (length > limit || headerBytes > 5) {
        socket.destroy();
        return;
      }
      if (byte & 0x80) continue; // more length bytes follow
      packets++;
      bodyLeft = length;
      headerBytes = 0;
      length = 0;
      multiplier = 1;
      inHeader = bodyLeft === 0;
    }
  });
}
