/**
 * The protocol buffers TensorBoard reads, encoded with @bufbuild/protobuf's binary writer:
 * `Event` (tensorflow/core/util/event.proto), `Summary` and its values, images
 * and histograms (tensorflow/core/framework/summary.proto), string tensors
 * for the text plugin (tensor.proto), and the HParams plugin's data
 * (tensorboard/plugins/hparams/plugin_data.proto, api.proto). Only the fields
 * trackstack writes; their numbers are the protos'. Fields go in number order and
 * proto3 defaults (0, empty) are left out, as protobuf's Python writer does, so an event
 * is byte for byte what tensorboardX writes for the same value.
 */
import { WireType, BinaryWriter as Writer } from '@bufbuild/protobuf/wire';

const VARINT = WireType.Varint;
const FIXED64 = WireType.Bit64;
const BYTES = WireType.LengthDelimited;
const FIXED32 = WireType.Bit32;

/** What one `Summary.Value` carries (one of). */
export type SummaryValue =
  | { tag: string; scalar: number }
  | {
      tag: string;
      /** `colorspace`: the channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), when known. */
      image: { width: number; height: number; colorspace?: number; encoded: Uint8Array };
    }
  | { tag: string; histogram: HistogramValue }
  | { tag: string; text: string }
  | { tag: string; hparams: HParamsData };

export interface HistogramValue {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Each bucket's right edge. */
  bucketLimit: number[];
  bucket: number[];
}

/** `HParamsPluginData`: one of a session's start (its hparams) and its end (its status). */
type HParamsData =
  | {
      sessionStart: {
        hparams: Record<string, string | number | boolean>;
        startTimeSecs: number;
        groupName?: string;
      };
    }
  | { sessionEnd: { status: SessionStatus; endTimeSecs: number } };

/** tensorboard.hparams.Status. */
export const SESSION_STATUS = {
  STATUS_UNKNOWN: 0,
  STATUS_SUCCESS: 1,
  STATUS_FAILURE: 2,
  STATUS_RUNNING: 3,
} as const;
export type SessionStatus = (typeof SESSION_STATUS)[keyof typeof SESSION_STATUS];

/** The first event of every file. */
export const FILE_VERSION = 'brain.Event:2';

/** tensorflow.DataType.DT_STRING */
const DT_STRING = 7;

/** `Event { wall_time = 1; step = 2; file_version = 3 | summary = 5 }`. */
export function encodeEvent(event: {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  summary?: SummaryValue[];
}): Uint8Array {
  const w = new Writer();
  w.tag(1, FIXED64).double(event.wallTime);
  if (event.step !== undefined && event.step !== 0) w.tag(2, VARINT).int64(event.step);
  if (event.fileVersion !== undefined) w.tag(3, BYTES).string(event.fileVersion);
  if (event.summary !== undefined) {
    w.tag(5, BYTES).fork();
    for (const value of event.summary) {
      w.tag(1, BYTES).fork();
      summaryValue(w, value);
      w.join();
    }
    w.join();
  }
  return w.finish();
}

/** `Summary.Value { tag = 1; simple_value = 2 | image = 4 | histo = 5 | tensor = 8; metadata = 9 }` */
function summaryValue(w: Writer, value: SummaryValue): void {
  w.tag(1, BYTES).string(value.tag);
  if ('scalar' in value) {
    // float32, as TensorBoard keeps scalars.
    // Rounded here: beyond float32's range is ±Infinity, as a C float cast (the writer refuses it).
    w.tag(2, FIXED32).float(Math.fround(value.scalar));
  } else if ('image' in value) {
    // Summary.Image { height = 1; width = 2; colorspace = 3; encoded_image_string = 4 }
    w.tag(4, BYTES).fork();
    w.tag(1, VARINT).int32(value.image.height);
    w.tag(2, VARINT).int32(value.image.width);
    if (value.image.colorspace) w.tag(3, VARINT).int32(value.image.colorspace);
    w.tag(4, BYTES).bytes(value.image.encoded);
    w.join();
  } else if ('histogram' in value) {
    const h = value.histogram;
    // HistogramProto { min = 1; max = 2; num = 3; sum = 4; sum_squares = 5;
    //                  bucket_limit = 6 [packed]; bucket = 7 [packed] }
    w.tag(5, BYTES).fork();
    double(w, 1, h.min);
    double(w, 2, h.max);
    double(w, 3, h.num);
    double(w, 4, h.sum);
    double(w, 5, h.sumSquares);
    packedDoubles(w, 6, h.bucketLimit);
    packedDoubles(w, 7, h.bucket);
    w.join();
  } else if ('text' in value) {
    // The text plugin: a string tensor of shape [1], plugin "text" (TextPluginData, version 0).
    w.tag(8, BYTES).fork();
    w.tag(1, VARINT).int32(DT_STRING);
    w.tag(2, BYTES).fork(); // TensorShapeProto { dim = 2 { size = 1 } }
    w.tag(2, BYTES).fork().tag(1, VARINT).int64(1).join();
    w.join();
    w.tag(8, BYTES).bytes(Buffer.from(value.text, 'utf8'));
    w.join();
    pluginMetadata(w, 'text', new Uint8Array());
  } else {
    pluginMetadata(w, 'hparams', encodeHParams(value.hparams));
  }
}

/** `SummaryMetadata { plugin_data = 1 { plugin_name = 1; content = 2 } }` */
function pluginMetadata(w: Writer, plugin: string, content: Uint8Array): void {
  w.tag(9, BYTES).fork();
  w.tag(1, BYTES).fork();
  w.tag(1, BYTES).string(plugin);
  if (content.length > 0) w.tag(2, BYTES).bytes(content);
  w.join();
  w.join();
}

/**
 * `HParamsPluginData { version = 1; session_start_info = 3 | session_end_info = 4 }`;
 * `SessionStartInfo { hparams = 1 (map<string, google.protobuf.Value>); group_name = 4;
 * start_time_secs = 5 }`; `SessionEndInfo { status = 1; end_time_secs = 2 }`.
 */
function encodeHParams(data: HParamsData): Uint8Array {
  const w = new Writer();
  if ('sessionStart' in data) {
    const { hparams, startTimeSecs, groupName } = data.sessionStart;
    w.tag(3, BYTES).fork();
    for (const [name, value] of Object.entries(hparams)) {
      w.tag(1, BYTES).fork(); // the map's entry { key = 1; value = 2 }
      w.tag(1, BYTES).string(name);
      w.tag(2, BYTES).fork();
      // google.protobuf.Value { number_value = 2; string_value = 3; bool_value = 4 }
      if (typeof value === 'number') w.tag(2, FIXED64).double(value);
      else if (typeof value === 'boolean') w.tag(4, VARINT).bool(value);
      else w.tag(3, BYTES).string(value);
      w.join();
      w.join();
    }
    if (groupName !== undefined) w.tag(4, BYTES).string(groupName);
    w.tag(5, FIXED64).double(startTimeSecs);
    w.join();
  } else {
    const { status, endTimeSecs } = data.sessionEnd;
    w.tag(4, BYTES).fork();
    if (status !== 0) w.tag(1, VARINT).int32(status);
    w.tag(2, FIXED64).double(endTimeSecs);
    w.join();
  }
  return w.finish();
}

/** A proto3 double: not written when 0 (its default), as protobuf's own writers do. */
function double(w: Writer, field: number, value: number): void {
  if (value !== 0 || Object.is(value, -0)) w.tag(field, FIXED64).double(value);
}

function packedDoubles(w: Writer, field: number, values: readonly number[]): void {
  if (values.length === 0) return;
  w.tag(field, BYTES).fork();
  for (const v of values) w.double(v);
  w.join();
}
