"""Reads every TensorBoard event file under a directory with TensorBoard's own code, as JSON.

Usage:
    python read_events.py <dir>

Runs are found the way TensorBoard finds them (io_wrapper.GetLogdirSubdirectories: every
directory holding a file whose name contains "tfevents"; the run's name is its path
relative to <dir>, "." for <dir> itself). For each run the JSON document has:

  "accumulator"         tensorboard.backend.event_processing.event_accumulator
                        .EventAccumulator(run_dir, size_guidance={every kind: 0}) after
                        Reload(): "scalars" {tag: [{step, wall_time, value}]} (value is the
                        float32 TensorBoard holds, widened to a double, so 0.1 reads
                        0.10000000149011612; NaN/Infinity/-Infinity as strings),
                        "images" {tag: [{step, wall_time, width, height, sha256, bytes,
                        decoded: {width, height, mode}}]}, "histograms" {tag: [{step,
                        wall_time, min, max, num, sum, sum_squares, bucket_limit, bucket}]},
                        "tags" (its Tags()).
  "plugin_accumulator"  plugin_event_accumulator.EventAccumulator (what the server's Python
                        loader runs: data_compat + dataclass_compat migrate old-style values
                        to tensors): "plugins" {plugin: {tag: content base64}}, "tensors"
                        {tag: [{step, wall_time, dtype, shape, value}]} (scalars a number,
                        text the list of strings, images [width, height, sha256 of each
                        blob], histograms [[left, right, count], ...]), "text"
                        {tag: [{step, wall_time, text}]}, "hparams" {tag: decoded
                        HParamsPluginData: version, and experiment / session_start_info
                        (hparams as plain values) / session_end_info (status name,
                        end_time_secs)}, "data_class" {tag: DataClass name}.
  "files"               per event file, in name order: "name", "size", "events" (every
                        record of the file as read by event_file_loader.RawEventFileLoader,
                        parsed with event_pb2.Event, as json_format.MessageToDict with
                        preserving_proto_field_name=True, plus "_record": {size, sha256,
                        hex (records up to 4096 bytes)}), "loader_count" (how many records
                        RawEventFileLoader yielded), "reader" (TensorBoard's record reader
                        driven by hand, so the error it swallows is seen: {count, error}),
                        and "framing" (an independent TFRecord check: {records, valid_bytes,
                        trailing_bytes, error}). A torn or corrupt record never crashes
                        the script; it is reported.

Top level: {"tensorboard": version, "tf": "stub" (no TensorFlow here), "runs": {...}}.
"""

import base64
import hashlib
import io
import json
import math
import os
import struct
import sys

from google.protobuf import json_format
from tensorboard import version as tb_version
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing import io_wrapper
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.compat import tf
from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as stub_pywrap
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

HEX_LIMIT = 4096


def number(value):
    """A float as JSON: finite values as numbers (repr precision), others as strings."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def decode_image(data):
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return {"width": img.width, "height": img.height, "mode": img.mode, "format": img.format}
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return {"error": f"{type(e).__name__}: {e}"}


def plain_value(value):
    """A google.protobuf.Value as a plain JSON value."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return number(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind is None or kind == "null_value":
        return None
    return json_format.MessageToDict(value)


def to_dict(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def decode_hparams(content):
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    out = {"version": data.version, "which": data.WhichOneof("data")}
    if data.HasField("experiment"):
        out["experiment"] = to_dict(data.experiment)
    if data.HasField("session_start_info"):
        ssi = data.session_start_info
        out["session_start_info"] = {
            "hparams": {k: plain_value(v) for k, v in sorted(ssi.hparams.items())},
            "hparam_kinds": {k: v.WhichOneof("kind") for k, v in sorted(ssi.hparams.items())},
            "model_uri": ssi.model_uri,
            "monitor_url": ssi.monitor_url,
            "group_name": ssi.group_name,
            "start_time_secs": number(ssi.start_time_secs),
        }
    if data.HasField("session_end_info"):
        sei = data.session_end_info
        out["session_end_info"] = {
            "status": api_pb2.Status.Name(sei.status),
            "status_number": sei.status,
            "end_time_secs": number(sei.end_time_secs),
        }
    return out


# ---- TFRecord framing ------------------------------------------------------------------


def framing(data):
    """Independent check of the TFRecord framing: how many whole, valid records lead the file."""
    pos, records = 0, 0
    error = None
    while pos < len(data):
        if len(data) - pos < 12:
            error = f"truncated header at {pos} ({len(data) - pos} bytes)"
            break
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        if stub_pywrap.masked_crc32c(header) != header_crc:
            error = f"bad length crc at {pos}"
            break
        if len(data) - pos - 12 < length + 4:
            error = f"truncated data at {pos} (length {length}, {len(data) - pos - 12} bytes left)"
            break
        payload = data[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
        if stub_pywrap.masked_crc32c(payload) != data_crc:
            error = f"bad data crc at {pos}"
            break
        pos += 16 + length
        records += 1
    return {"records": records, "valid_bytes": pos, "trailing_bytes": len(data) - pos, "error": error}


def reader_report(path):
    """TensorBoard's record reader (the TF stub's PyRecordReader_New) driven by hand: the
    error RawEventFileLoader swallows (DataLossError on a torn record or a bad CRC) is kept."""
    count, error = 0, None
    try:
        reader = stub_pywrap.PyRecordReader_New(path.encode(), 0, b"", None)
    except Exception as e:  # noqa: BLE001
        return {"count": 0, "error": f"{type(e).__name__}: {e}"}
    while True:
        try:
            reader.GetNext()
        except tf.errors.OutOfRangeError:
            break
        except Exception as e:  # noqa: BLE001
            error = f"{type(e).__name__}: {getattr(e, 'message', None) or e}"
            break
        count += 1
        if count > 10_000_000:
            error = "too many records"
            break
    return {"count": count, "error": error}


def read_file(path):
    entry = {"name": os.path.basename(path), "size": os.path.getsize(path)}
    events = []
    loader_error = None
    try:
        loader = event_file_loader.RawEventFileLoader(path)
        for record in loader.Load():
            item = {}
            try:
                event = event_pb2.Event.FromString(record)
                item = to_dict(event)
            except Exception as e:  # noqa: BLE001
                item = {"_parse_error": f"{type(e).__name__}: {e}"}
            rec = {"size": len(record), "sha256": sha256(record)}
            if len(record) <= HEX_LIMIT:
                rec["hex"] = record.hex()
            item["_record"] = rec
            events.append(item)
    except Exception as e:  # noqa: BLE001
        loader_error = f"{type(e).__name__}: {e}"
    entry["events"] = events
    entry["loader_count"] = len(events)
    entry["loader_error"] = loader_error
    entry["reader"] = reader_report(path)
    with open(path, "rb") as f:
        entry["framing"] = framing(f.read())
    return entry


# ---- accumulators ----------------------------------------------------------------------


def legacy_accumulator(run_dir):
    acc = ea.EventAccumulator(run_dir, size_guidance=dict(ea.STORE_EVERYTHING_SIZE_GUIDANCE))
    out = {"error": None}
    try:
        acc.Reload()
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    tags = acc.Tags()
    out["tags"] = {k: (sorted(v) if isinstance(v, list) else v) for k, v in tags.items()}
    out["scalars"] = {
        tag: [{"step": s.step, "wall_time": s.wall_time, "value": number(s.value)} for s in acc.Scalars(tag)]
        for tag in sorted(tags.get(ea.SCALARS, []))
    }
    out["images"] = {
        tag: [
            {
                "step": i.step,
                "wall_time": i.wall_time,
                "width": i.width,
                "height": i.height,
                "bytes": len(i.encoded_image_string),
                "sha256": sha256(i.encoded_image_string),
                "decoded": decode_image(i.encoded_image_string),
            }
            for i in acc.Images(tag)
        ]
        for tag in sorted(tags.get(ea.IMAGES, []))
    }
    out["histograms"] = {
        tag: [
            {
                "step": h.step,
                "wall_time": h.wall_time,
                "min": number(h.histogram_value.min),
                "max": number(h.histogram_value.max),
                "num": number(h.histogram_value.num),
                "sum": number(h.histogram_value.sum),
                "sum_squares": number(h.histogram_value.sum_squares),
                "bucket_limit": [number(x) for x in h.histogram_value.bucket_limit],
                "bucket": [number(x) for x in h.histogram_value.bucket],
            }
            for h in acc.Histograms(tag)
        ]
        for tag in sorted(tags.get(ea.HISTOGRAMS, []))
    }
    return out


def tensor_value(plugin, proto):
    dtype = types_pb2.DataType.Name(proto.dtype)
    shape = [d.size for d in proto.tensor_shape.dim]
    try:
        arr = tensor_util.make_ndarray(proto)
    except Exception as e:  # noqa: BLE001
        return dtype, shape, {"error": f"{type(e).__name__}: {e}"}
    if plugin == "images":
        flat = list(arr.reshape(-1))
        value = [flat[0].decode(), flat[1].decode()] + [
            {"bytes": len(b), "sha256": sha256(b), "decoded": decode_image(b)} for b in flat[2:]
        ]
    elif proto.dtype == types_pb2.DT_STRING:
        value = [b.decode("utf-8", "replace") for b in arr.reshape(-1)]
    elif arr.ndim == 0:
        value = number(arr.item())
    else:
        value = [[number(x) for x in row] for row in arr.reshape(arr.shape[0], -1)] if arr.ndim >= 2 else [
            number(x) for x in arr
        ]
    return dtype, shape, value


def plugin_accumulator(run_dir):
    acc = pea.EventAccumulator(
        run_dir,
        size_guidance=dict(pea.STORE_EVERYTHING_SIZE_GUIDANCE),
        tensor_size_guidance={},
    )
    out = {"error": None}
    try:
        acc.Reload()
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    plugin_of = {}
    plugins = {}
    for plugin in sorted(acc.ActivePlugins()):
        contents = acc.PluginTagToContent(plugin)
        plugins[plugin] = {tag: base64.b64encode(c).decode() for tag, c in sorted(contents.items())}
        for tag in contents:
            plugin_of[tag] = plugin
    out["plugins"] = plugins
    data_class = {}
    tensors = {}
    text = {}
    for tag in sorted(acc.Tags().get(pea.TENSORS, [])):
        md = acc.SummaryMetadata(tag)
        data_class[tag] = summary_pb2.DataClass.Name(md.data_class)
        plugin = plugin_of.get(tag, md.plugin_data.plugin_name)
        items = []
        for t in acc.Tensors(tag):
            dtype, shape, value = tensor_value(plugin, t.tensor_proto)
            items.append({"step": t.step, "wall_time": t.wall_time, "dtype": dtype, "shape": shape, "value": value})
        tensors[tag] = items
        if plugin == "text":
            text[tag] = [{"step": i["step"], "wall_time": i["wall_time"], "text": i["value"]} for i in items]
    out["tensors"] = tensors
    out["text"] = text
    out["data_class"] = data_class
    out["hparams"] = {}
    for tag, content in sorted(acc.PluginTagToContent("hparams").items()) if "hparams" in plugins else []:
        try:
            out["hparams"][tag] = decode_hparams(content)
        except Exception as e:  # noqa: BLE001
            out["hparams"][tag] = {"error": f"{type(e).__name__}: {e}"}
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    root = os.path.abspath(sys.argv[1])
    runs = {}
    for run_dir in sorted(io_wrapper.GetLogdirSubdirectories(root)):
        name = os.path.relpath(run_dir, root)
        files = sorted(
            os.path.join(run_dir, f)
            for f in os.listdir(run_dir)
            if io_wrapper.IsSummaryEventsFile(os.path.join(run_dir, f))
        )
        runs[name] = {
            "files": [read_file(f) for f in files],
            "accumulator": legacy_accumulator(run_dir),
            "plugin_accumulator": plugin_accumulator(run_dir),
        }
    json.dump(
        {"tensorboard": tb_version.VERSION, "tf": tf.__version__, "runs": runs},
        sys.stdout,
        indent=1,
        sort_keys=True,
        allow_nan=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
