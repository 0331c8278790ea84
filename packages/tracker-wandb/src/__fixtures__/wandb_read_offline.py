"""Reads a .wandb transaction log the way `wandb sync` does, and prints it as JSON.

wandb 0.30 has no Python reader any more (wandb/sdk/internal/datastore.py is
gone; `wandb sync` reads the file in the Go core). So this script asks the real
reader twice and requires both answers to agree:

1. wandb-core's own reader, through `wandb leet inspect <file>`, which prints
   every record it reads as protobuf text (and `# skipped corrupt data: ...` or
   `# reached the end of an incomplete .wandb file` when the file is bad).
   Each record is parsed back with the SDK's `wandb_internal_pb2.Record`.
2. A strict framing check written here (header, 32 KiB blocks, chunk headers,
   CRC-32 over type byte + payload, zero padding, chunk-type sequence, no bytes
   after the last chunk) whose payloads are parsed with `Record.FromString`.

Usage:
    python wandb_read_offline.py <run-xxx.wandb>   -> JSON report of the file
    python wandb_read_offline.py --fields          -> the SDK's field numbers
"""

import json
import math
import os
import re
import struct
import subprocess
import sys
import zlib

from google.protobuf import json_format, text_format
from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7
CHUNK_NAMES = {1: "FULL", 2: "FIRST", 3: "MIDDLE", 4: "LAST"}


class BadFile(Exception):
    pass


def frame(data):
    """Strict reader of the leveldb-log framing; returns (header, payloads, chunks)."""
    if len(data) < HEADER:
        raise BadFile("file shorter than the 7-byte header")
    ident, magic, version = data[0:4], struct.unpack("<H", data[4:6])[0], data[6]
    header = {"ident": ident.decode("latin-1"), "magic": magic, "version": version}
    payloads, chunks, pending = [], [], None
    pos = HEADER
    while pos < len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pad = data[pos : pos + left]
            if len(pad) != left:
                raise BadFile(f"{len(pad)} bytes after the last chunk at {pos}")
            if any(pad):
                raise BadFile(f"non-zero block trailer at {pos}")
            pos += left
            continue
        if len(data) - pos < HEADER:
            raise BadFile(f"truncated chunk header at {pos}")
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if HEADER + length > left:
            raise BadFile(f"chunk at {pos} crosses a block boundary")
        payload = data[pos + HEADER : pos + HEADER + length]
        if len(payload) != length:
            raise BadFile(f"truncated chunk payload at {pos}")
        if zlib.crc32(bytes([kind]) + payload) != crc:
            raise BadFile(f"CRC mismatch at {pos}")
        chunks.append([pos, kind, length])
        if kind == 1:
            if pending is not None:
                raise BadFile(f"FULL chunk inside a multi-chunk record at {pos}")
            payloads.append(payload)
        elif kind == 2:
            if pending is not None:
                raise BadFile(f"FIRST chunk inside a multi-chunk record at {pos}")
            pending = bytearray(payload)
        elif kind in (3, 4):
            if pending is None:
                raise BadFile(f"{CHUNK_NAMES[kind]} chunk without FIRST at {pos}")
            pending += payload
            if kind == 4:
                payloads.append(bytes(pending))
                pending = None
        else:
            raise BadFile(f"unknown chunk type {kind} at {pos}")
        pos += HEADER + length
    if pending is not None:
        raise BadFile("file ends inside a multi-chunk record")
    return header, payloads, chunks


def read_with_wandb_core(path):
    """Records as wandb-core's reader sees them (`wandb leet inspect`)."""
    wandb_cli = os.path.join(os.path.dirname(sys.executable), "wandb")
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    proc = subprocess.Popen(
        [wandb_cli, "leet", "inspect", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        encoding="utf-8",
    )
    records, body, head = [], [], None

    def finish():
        if head is None:
            return
        m = re.match(r"^# record (\d+): (\w+)$", head)
        record = text_format.Parse("".join(body), pb.Record())
        if record.WhichOneof("record_type") != m.group(2):
            raise BadFile(f"inspect said {head!r} but parsed {record.WhichOneof('record_type')}")
        records.append(record)

    try:
        for line in proc.stdout:
            if line.startswith("# "):
                finish()
                head, body = line.rstrip("\n"), []
                # On a bad header wandb-core reports the error forever; stop at the first one.
                if not re.match(r"^# record \d+: \w+$", head):
                    raise BadFile(f"wandb-core: {head[2:]}")
            else:
                body.append(line)
        finish()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if proc.returncode not in (0, None) and not records:
        raise BadFile(f"wandb leet inspect failed: {proc.stderr.read()}")
    return records


def items(values):
    return [
        {"key": i.key, "nested_key": list(i.nested_key), "value_json": i.value_json}
        for i in values
    ]


def describe(record):
    kind = record.WhichOneof("record_type")
    out = {"type": kind, "num": record.num, "stream_id": record._info.stream_id}
    if kind == "header":
        out["producer"] = record.header.version_info.producer
        out["min_consumer"] = record.header.version_info.min_consumer
    elif kind == "run":
        r = record.run
        out.update(
            run_id=r.run_id,
            entity=r.entity,
            project=r.project,
            display_name=r.display_name,
            run_group=r.run_group,
            job_type=r.job_type,
            notes=r.notes,
            tags=list(r.tags),
            host=r.host,
            starting_step=r.starting_step,
            start_time=(
                {"seconds": r.start_time.seconds, "nanos": r.start_time.nanos}
                if r.HasField("start_time")
                else None
            ),
            config=items(r.config.update),
        )
    elif kind == "config":
        out.update(update=items(record.config.update), remove=items(record.config.remove))
    elif kind == "summary":
        out.update(update=items(record.summary.update), remove=items(record.summary.remove))
    elif kind == "history":
        h = record.history
        out.update(items=items(h.item), step=h.step.num if h.HasField("step") else None)
    elif kind == "files":
        out["files"] = [
            {
                "path": f.path,
                "policy": pb.FilesItem.PolicyType.Name(f.policy),
                "type": pb.FilesItem.FileType.Name(f.type),
            }
            for f in record.files.files
        ]
    elif kind == "exit":
        out.update(exit_code=record.exit.exit_code, runtime=record.exit.runtime)
    elif kind == "stats":
        st = record.stats
        out.update(
            stats_type=pb.StatsRecord.StatsType.Name(st.stats_type),
            timestamp={"seconds": st.timestamp.seconds, "nanos": st.timestamp.nanos},
            items={i.key: json.loads(i.value_json) for i in st.item},
            always_send=record.control.always_send,
        )
    elif kind == "environment":
        out["environment"] = json_format.MessageToDict(record.environment)
    elif kind == "artifact":
        out["artifact"] = json_format.MessageToDict(record.artifact, preserving_proto_field_name=True)
    return out


def plain(value):
    """A JSON value, with non-finite floats spelled as strings (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def path_of(item):
    return [item.key] if item.key else list(item.nested_key)


def set_path(target, path, value):
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def view(records):
    """What a W&B backend would hold after `wandb sync`: config, history rows, summary."""
    config, summary, rows, files, exit_record = {}, {}, [], [], None
    for r in records:
        kind = r.WhichOneof("record_type")
        if kind == "run":
            for i in r.run.config.update:
                set_path(config, path_of(i), json.loads(i.value_json))
        elif kind == "config":
            for i in r.config.update:
                set_path(config, path_of(i), json.loads(i.value_json))
            for i in r.config.remove:
                config.pop(path_of(i)[0], None)
        elif kind == "summary":
            for i in r.summary.update:
                set_path(summary, path_of(i), json.loads(i.value_json))
            for i in r.summary.remove:
                summary.pop(path_of(i)[0], None)
        elif kind == "history":
            row = {}
            for i in r.history.item:
                set_path(row, path_of(i), json.loads(i.value_json))
            rows.append(row)
        elif kind == "files":
            files.extend(f.path for f in r.files.files)
        elif kind == "exit":
            exit_record = {"exit_code": r.exit.exit_code, "runtime": r.exit.runtime}
    return plain({"config": config, "history": rows, "summary": summary, "files": files, "exit": exit_record})


def fields():
    """Field numbers of the messages trackstack writes, from the SDK's own descriptors."""
    from google.protobuf import timestamp_pb2
    from google.protobuf.descriptor import FieldDescriptor

    type_names = {
        getattr(FieldDescriptor, n): n[len("TYPE_") :].lower()
        for n in dir(FieldDescriptor)
        if n.startswith("TYPE_")
    }

    messages = [
        pb.Record, pb.Control, pb.HeaderRecord, pb.VersionInfo, pb.RunRecord,
        pb.ConfigRecord, pb.ConfigItem, pb.HistoryRecord, pb.HistoryItem, pb.HistoryStep,
        pb.SummaryRecord, pb.SummaryItem, pb.FilesRecord, pb.FilesItem, pb.RunExitRecord,
        pb.OutputRawRecord, pb.GitRepoRecord, pb.EnvironmentRecord, pb.StatsRecord, pb.StatsItem,
        pb.ArtifactRecord, pb.ArtifactManifest, pb.StoragePolicyConfigItem, pb.ArtifactManifestEntry,
        timestamp_pb2.Timestamp,
    ]
    out = {}
    for message in messages:
        d = message.DESCRIPTOR
        out[d.name] = {
            f.name: {
                "number": f.number,
                "type": type_names[f.type],
                "repeated": f.is_repeated,
                "oneof": f.containing_oneof.name if f.containing_oneof else None,
            }
            for f in d.fields
        }
    info = pb.Record.DESCRIPTOR.fields_by_name["_info"].message_type
    out[info.name] = {
        f.name: {"number": f.number, "type": type_names[f.type], "repeated": f.is_repeated, "oneof": None}
        for f in info.fields
    }
    enums = {
        e.name: {v.name: v.number for v in e.values}
        for e in [*pb.FilesItem.DESCRIPTOR.enum_types, *pb.OutputRawRecord.DESCRIPTOR.enum_types]
    }
    return {"messages": out, "enums": enums}


def main():
    if sys.argv[1:] == ["--fields"]:
        print(json.dumps(fields()))
        return
    path = sys.argv[1]
    try:
        with open(path, "rb") as f:
            data = f.read()
        core = read_with_wandb_core(path)
        header, payloads, chunks = frame(data)
        strict = [pb.Record.FromString(p) for p in payloads]
        if len(core) != len(strict) or any(a != b for a, b in zip(core, strict)):
            raise BadFile(
                f"wandb-core read {len(core)} records, the strict reader {len(strict)}; they differ"
            )
        report = {
            "ok": True,
            "size": len(data),
            "header": header,
            "chunks": chunks,
            "records": [describe(r) for r in core],
            "view": view(core),
        }
    except BadFile as e:
        report = {"ok": False, "error": str(e)}
    print(json.dumps(report, allow_nan=False))


if __name__ == "__main__":
    main()
