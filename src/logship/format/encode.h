// Wire formats of the outputs (pure: bytes in, bytes out). Every encoder
// appends to *out. Text that is not valid UTF-8 is repaired (U+FFFD) where
// the format is JSON; syslog carries the bytes as they are (RFC 5424 allows
// it without the BOM).
//
// Labels every format carries: service, container (name), container_id,
// image, release, node, app, stream — empty ones are left out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logship/format/record.h"

namespace moor::logship {

// Logstash json_lines codec: one JSON object and "\n":
// {"@timestamp":"2026-11-27T10:00:00.123456789Z","message":"…","stream":"stdout",
//  "service":"php","container":"shop-php-1","container_id":"…","image":"…",
//  "release":"7","node":"web1","app":"shop", …fields of a parsed JSON line}
// Parsed fields never replace the moor keys above (a clash gets "app_" prefixed).
void EncodeJsonLine(const Record& r, const SourceMeta& s, std::string* out);

// GELF 1.1 (https://go2docs.graylog.org/current/getting_in_log_data/gelf.html):
// {"version":"1.1","host":NODE,"short_message":first line,"full_message":text
// (only when multi-line),"timestamp":seconds.micro,"level":6 stdout / 3 stderr,
// "_service":…, "_container":…, …, parsed fields as "_name"}.
// No terminator: TCP appends "\0" (GelfTcpFrame), UDP chunks.
void EncodeGelf(const Record& r, const SourceMeta& s, std::string* out);
void GelfTcpFrame(std::string_view gelf, std::string* out);  // gelf + '\0'
// UDP: one datagram when gelf fits chunk_size, else chunks of
// 0x1e 0x0f, 8-byte message id, seq, count, ≤ chunk_size-12 bytes; more than
// 128 chunks cannot be sent (returns empty: the caller counts a drop).
std::vector<std::string> GelfChunks(std::string_view gelf, uint64_t message_id, size_t chunk_size = 1420);

// RFC 5424: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG"
// PRI = facility*8 + (6 stdout | 3 stderr); HOSTNAME = node; APP-NAME =
// service (else container name), ≤ 48 printable ASCII; PROCID = container
// name (≤ 128); MSGID = stream; SD = [moor@32473 container_id="…" image="…"
// release="…" app="…"] with ] " \ escaped; TIMESTAMP with microseconds, Z.
struct SyslogOptions {
  int facility = 1;  // user-level (1); 16..23 = local0..7
};
void EncodeSyslog5424(const Record& r, const SourceMeta& s, const SyslogOptions& o, std::string* out);
// RFC 6587 octet counting for TCP: "LEN SP MSG".
void OctetCountFrame(std::string_view msg, std::string* out);

// Loki push API JSON body (POST /loki/api/v1/push,
// https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs):
// {"streams":[{"stream":{labels},"values":[["<unix ns>","line"],…]},…]}
// One stream per distinct label set (service, container, release, node, app,
// stream, plus extra_labels); values in input order. image and container_id
// go in the line's structured metadata as a third element
// {"container_id":…,"image":…}, since they would multiply streams.
struct LokiLabel {
  std::string name, value;
};
void EncodeLokiPush(const std::vector<std::pair<Record, const SourceMeta*>>& batch,
                    const std::vector<LokiLabel>& extra_labels, std::string* out);

// File output: the json_lines object, one per line (same as EncodeJsonLine).

// Helpers shared by the encoders.
void AppendJsonString(std::string_view s, std::string* out);  // quoted, escaped, UTF-8 repaired
void AppendRfc3339Nano(int64_t unix_ns, std::string* out);    // 2026-11-27T10:00:00.123456789Z

}  // namespace moor::logship
