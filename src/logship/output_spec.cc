// --log-output specs and the moor.log.* labels: pure parsing, one-line errors.
#include <algorithm>

#include "common/strings.h"
#include "logship/shipper.h"

namespace moor::logship {

namespace {

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 32) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// "HOST:PORT" with a port 1..65535 (HOST may be "[v6]").
bool ValidHostPort(std::string_view a) {
  auto colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto port = ParseUint(a.substr(colon + 1));
  return port && *port >= 1 && *port <= 65535;
}

Result<int> ParseFacility(std::string_view v) {
  static const char* names[] = {"kern", "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
                                "uucp", "cron",   "authpriv", "ftp",  "ntp",    "audit",  "alert",  "clock",
                                "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
  for (int i = 0; i < 24; ++i) {
    if (v == names[i]) return i;
  }
  auto n = ParseUint(v);
  if (n && *n < 24) return static_cast<int>(*n);
  return FailInvalid("facility \"" + std::string(v) + "\": use a name like local0 or user, or a number 0-23");
}

bool IsTcp(OutputType t) {
  return t == OutputType::kLogstash || t == OutputType::kGelfTcp || t == OutputType::kSyslogTcp;
}

}  // namespace

Result<OutputConfig> ParseOutputSpec(std::string_view spec) {
  const std::string whole(spec);
  auto fail = [&](const std::string& why) {
    return FailInvalid("--log-output \"" + whole + "\": " + why);
  };
  OutputConfig c;
  auto scheme = spec.find("://");
  if (scheme == std::string_view::npos) {
    return fail("expected [NAME=]TYPE://ADDRESS, like syslog-tcp://127.0.0.1:514");
  }
  std::string_view head = spec.substr(0, scheme);
  std::string_view rest = spec.substr(scheme + 3);
  std::string_view type_name = head;
  if (auto eq = head.find('='); eq != std::string_view::npos) {
    c.name = std::string(head.substr(0, eq));
    type_name = head.substr(eq + 1);
    if (!ValidName(c.name)) return fail("the name must be 1-32 of a-z 0-9 _ -");
  }
  auto type = ParseOutputType(type_name);
  if (!type) {
    return fail("unknown type \"" + std::string(type_name) +
                "\": use logstash, gelf-udp, gelf-tcp, syslog-tcp, syslog-udp, loki or file");
  }
  c.type = *type;
  if (c.name.empty()) c.name = std::string(OutputTypeName(c.type));

  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  bool tls = false;
  for (const auto& kv : Split(query, '&')) {
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    if (eq == std::string::npos) return fail("option \"" + kv + "\" needs a value (opt=value)");
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "facility" && (c.type == OutputType::kSyslogTcp || c.type == OutputType::kSyslogUdp)) {
      auto f = ParseFacility(v);
      if (!f) return fail(f.error().message());
      c.syslog.facility = *f;
    } else if (StartsWith(k, "label.") && c.type == OutputType::kLoki) {
      std::string name = k.substr(6);
      bool ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                std::all_of(name.begin(), name.end(), [](char ch) {
                  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
                });
      if (!ok) return fail("loki label \"" + name + "\": use letters, digits and _");
      c.loki_labels.push_back({name, v});
    } else if (k == "tls" && c.type == OutputType::kLoki) {
      if (v != "1" && v != "0" && v != "true" && v != "false") return fail("tls must be 1 or 0");
      tls = v == "1" || v == "true";
    } else if (k == "ack_delay" && IsTcp(c.type)) {
      auto d = ParseDurationNs(v);
      if (!d || *d > 60'000'000'000) return fail("ack_delay must be a duration up to 60s, like 500ms");
      c.ack_delay_ns = *d;
    } else if (k == "chunk" && c.type == OutputType::kGelfUdp) {
      auto n = ParseUint(v);
      if (!n || *n < 512 || *n > 65000) return fail("chunk must be a datagram size between 512 and 65000");
      c.gelf_chunk_size = *n;
    } else if (k == "batch") {
      auto n = ParseUint(v);
      if (!n || *n < 1 || *n > 100000) return fail("batch must be a number of records between 1 and 100000");
      c.batch_records = *n;
    } else {
      return fail("unknown option \"" + k + "\" for " + std::string(OutputTypeName(c.type)) +
                  " (see docs/logs.md)");
    }
  }

  if (c.type == OutputType::kFile) {
    if (rest.empty() || rest[0] != '/') return fail("a file output needs an absolute path: file:///var/log/moor/all.log");
    c.address = std::string(rest);
  } else if (c.type == OutputType::kLoki) {
    std::string_view hp = rest.substr(0, rest.find('/'));
    if (!ValidHostPort(hp)) return fail("expected loki://HOST:PORT[/path]");
    std::string path = rest.find('/') == std::string_view::npos ? "" : std::string(rest.substr(rest.find('/')));
    if (path.empty() || path == "/") path = "/loki/api/v1/push";
    c.address = (tls ? "https://" : "http://") + std::string(hp) + path;
  } else {
    if (!ValidHostPort(rest)) return fail("expected HOST:PORT, like 127.0.0.1:514");
    c.address = std::string(rest);
  }
  return c;
}

Result<SourceSettings> SettingsFromLabels(const std::map<std::string, std::string>& labels) {
  SourceSettings s;
  if (auto it = labels.find("moor.log.outputs"); it != labels.end()) {
    std::string v(Trim(it->second));
    if (v == "none") {
      s.none = true;
    } else if (!v.empty()) {
      for (const auto& n : Split(v, ',')) {
        std::string name(Trim(n));
        if (!ValidName(name)) {
          return FailInvalid("label moor.log.outputs=\"" + it->second + "\": \"" + name +
                             "\" is not an output name (a-z 0-9 _ -, or none)");
        }
        s.outputs.push_back(name);
      }
    }
  }
  if (auto it = labels.find("moor.log.multiline.start"); it != labels.end()) s.multiline_start = it->second;
  if (auto it = labels.find("moor.log.json"); it != labels.end()) {
    if (it->second == "true" || it->second == "1") {
      s.json = true;
    } else if (it->second != "false" && it->second != "0" && !it->second.empty()) {
      return FailInvalid("label moor.log.json=\"" + it->second + "\": use true or false");
    }
  }
  return s;
}

}  // namespace moor::logship
