export { encodeFrame, frameHeader, FrameDecoder, FRAME_HEADER } from './frame.js';
export { checkMsgpack, DEFAULT_LIMITS, type MsgpackLimits } from './msgpack-guard.js';
export {
  CATALOGUE, PROTOCOL_VERSION, SERVICE_NAME, decodeMessage, encodeMessage, expectMessage,
  type Bodies, type Channel, type Message, type MessageName, type MessageOf,
} from './messages.js';
export { NOISE_PROTOCOL, controlPrologue, controlPrologueV1, joinProof, paddedAnswer, sessionPrologue } from './handshakes.js';
